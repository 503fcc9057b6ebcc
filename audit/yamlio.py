"""Read untrusted YAML files and validate them with pydantic, with errors that point at file:line.

Every user-written YAML file (audit spec, policy) goes through :func:`load_model`, which turns a
pydantic ``ValidationError`` into one :class:`~audit.errors.InputError` naming the file, the line
and column, and the field path, with the nearest valid key suggested for a misspelt one.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import InputError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse ``path`` safely; return the data and its node tree (for line numbers)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read file: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise InputError(
            f"{where}: invalid YAML: {exc.problem or exc}",
            hint="fix the YAML syntax at that line (indentation, quotes, colons)",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {exc}") from None
    return data, node


def locate(
    node: yaml.Node | None, loc: Sequence[int | str]
) -> tuple[tuple[int, int] | None, list[int | str]]:
    """Follow a pydantic error location through the YAML node tree.

    Returns the 1-based (line, column) of the deepest node found and the path of keys that exist
    in the document (pydantic adds union tags such as ``fairness`` that the YAML does not have;
    they are dropped). A key missing from the document is kept last, pointing at its parent.
    """
    if node is None:
        return None, list(loc)
    best = node
    path: list[int | str] = []
    for i, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    best, node = key_node, value_node
                    path.append(part)
                    break
            else:
                if i == len(loc) - 1:
                    path.append(part)
                continue  # a union tag, or a required key that is absent
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = best = node.value[part]
            path.append(part)
        elif i == len(loc) - 1:
            path.append(part)
    return (best.start_mark.line + 1, best.start_mark.column + 1), path


def _field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _known_fields(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names valid at the parent of ``loc`` (best effort, for "did you mean")."""
    current: list[type[BaseModel]] = [model]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for m in current:
            field = m.model_fields.get(str(part))
            if field is not None:
                nxt += _inner_models(field.annotation)
        if not nxt:
            return []
        current = nxt
    return sorted({f.alias or n for m in current for n, f in m.model_fields.items()})


def _inner_models(annotation: Any) -> list[type[BaseModel]]:
    """Every pydantic model inside an annotation (list[...], unions, Annotated[...])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _inner_models(arg)
    return found


def validation_message(
    exc: ValidationError, path: Path, node: yaml.Node | None, model: type[BaseModel]
) -> InputError:
    """One InputError listing every problem of ``exc`` as ``file:line:col: field: message``."""
    lines = []
    hint = None
    for err in exc.errors():
        raw_loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raw_loc.append(str(err.get("ctx", {}).get("discriminator", "kind")).strip("'"))
        pos, loc = locate(node, raw_loc)
        where = f"{path}:{pos[0]}:{pos[1]}" if pos else str(path)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            known = _known_fields(model, loc)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            if close:
                msg += f" (did you mean '{close[0]}'?)"
            elif known:
                msg += f"; valid keys: {', '.join(sorted(known))}"
        lines.append(f"{where}: {_field_path(loc)}: {msg}")
        hint = hint or "correct the field named above and run again"
    if len(lines) > 5:
        lines = [*lines[:5], f"... and {len(lines) - 5} more problems"]
    return InputError("\n".join(lines), hint=hint)


def load_model(path: Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Read YAML ``path`` and validate it as ``model``; raise InputError naming file and line."""
    data, node = read_yaml(path)
    if data is None:
        raise InputError(f"{path}: the file is empty", hint=f"write a {model.__name__} in YAML")
    if not isinstance(data, dict):
        raise InputError(f"{path}:1:1: expected a mapping of keys at the top level")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise validation_message(exc, path, node, model) from None
