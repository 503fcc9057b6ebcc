"""docs/reference.md: every key of the audit spec, a policy file and a reason-code file, generated from the
pydantic models that validate them (the same models give spec and policy JSON Schemas).

``python -m audit.policy.reference > docs/reference.md`` regenerates it; a test keeps the
shipped file equal to the generated one and checks that every key of both JSON Schemas is in it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ..explain.reasons import ReasonCodeFile
from ..spec import AuditSpec
from .rules import AnyRule
from .schema import PolicyDocument

HEADER = """\
# Reference: every key of the audit spec and of a policy

Generated from the models that validate them (`python -m audit.policy.reference >
docs/reference.md`); a test keeps this file equal to what they generate. Unknown keys are
errors in both files. Types: `a | b` either; `list[x]` a YAML list; `{k: v}` a mapping;
`"x"` a literal value. Required keys have no default.
"""


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return " | ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(_type(a) for a in args)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin in (list, tuple, set, frozenset):
        return f"list[{_type(args[0])}]" if args else "list"
    if origin is dict:
        return f"{{{_type(args[0])}: {_type(args[1])}}}" if args else "mapping"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    return getattr(annotation, "__name__", str(annotation))


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models inside ``annotation`` (documented as nested tables)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models(arg)


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return ""
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(see below)"
    if value in ([], {}, None):
        return "none" if value is None else repr(value)
    return f"`{value!r}`" if not isinstance(value, str) else f'`"{value}"`'


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(model: type[BaseModel], prefix: str, skip: tuple[str, ...] = ()) -> list[str]:
    lines = ["| Key | Type | Default | What it is |", "| --- | --- | --- | --- |"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in skip:
            continue
        doc = field.description or ""
        lines.append(
            f"| `{prefix}{key}` | {_cell(_type(field.annotation))} | {_default(field)} | {_cell(doc)} |"
        )
        for sub in _models(field.annotation):
            if sub is not model:
                nested.append((f"{prefix}{key}", sub))
    out = lines
    seen = set()
    for path, sub in nested:
        if (path, sub) in seen:
            continue
        seen.add((path, sub))
        text = (sub.__doc__ or "").strip().split("\n\n")[0]
        out += ["", f"### `{path}` ({sub.__name__})", ""]
        if text:
            out += [" ".join(text.split()), ""]
        out += _table(sub, f"{path}.")
    return out


def _rule_kinds() -> list[type[BaseModel]]:
    return list(get_args(AnyRule))


def reference_markdown() -> str:
    """The whole of docs/reference.md."""
    out = [HEADER, "## The audit spec (`audit.yaml`)", ""]
    out += [" ".join((AuditSpec.__doc__ or "").split()), ""]
    out += _table(AuditSpec, "")
    out += ["", "## A policy file", ""]
    out += [" ".join((PolicyDocument.__doc__ or "").split()), ""]
    out += _table(PolicyDocument, "", skip=("rules",))
    out += ["", "## Rules (`rules:`), by `kind`", ""]
    for rule in _rule_kinds():
        (kind,) = get_args(rule.model_fields["kind"].annotation)
        out += ["", f"### `kind: {kind}`", ""]
        text = (rule.__doc__ or "").strip().split("\n\n")[0]
        if text:
            out += [" ".join(text.split()), ""]
        metrics = getattr(rule, "metrics", ())
        if metrics:
            out += ["Metrics: " + ", ".join(f"`{m}`" for m in metrics) + ".", ""]
        out += _table(rule, "", skip=("kind",))
    out += ["", "## A reason-code file (`explain.reason_codes`)", ""]
    out += [" ".join((ReasonCodeFile.__doc__ or "").split()), ""]
    out += _table(ReasonCodeFile, "")
    out += [
        "",
        "For example (the shipped `policies/reason-codes/german.yaml`):",
        "",
        "```yaml",
        "name: german-credit",
        'version: "1"',
        "reasons:",
        '  credit_amount: {code: R05, text: "Amount of credit requested"}',
        '  duration:      {code: R06, text: "Length of the requested credit term"}',
        "```",
    ]
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":  # pragma: no cover - the generator's command line
    print(reference_markdown(), end="")
