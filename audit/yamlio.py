"""Read untrusted YAML files and validate them with pydantic, with errors that point at file:line.

Every user-written YAML file (audit spec, policy, RBAC file, reason codes, an MLflow ``MLmodel``)
is parsed by :class:`StrictLoader`, through :func:`read_yaml` or :func:`parse_yaml`: a safe loader
that also refuses what a reviewer cannot see - a key given twice (the reviewer reads the first
value, PyYAML keeps the last), nesting deeper than :data:`MAX_DEPTH`, and aliases that expand to
more than :data:`MAX_NODES` nodes ("billion laughs") or refer to themselves. :func:`load_model`
then turns a pydantic ``ValidationError`` into one :class:`~audit.errors.InputError` naming the
file, the line and column, and the field path, with the nearest valid key suggested for a misspelt
one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import InputError

M = TypeVar("M", bound=BaseModel)

#: Deepest nesting of mappings and sequences accepted (real files stay under 10).
MAX_DEPTH = 64
#: Most nodes a document may expand to once every alias is followed.
MAX_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictYAMLError(yaml.MarkedYAMLError):
    """A document :class:`StrictLoader` refuses; reported as ``file:line: problem``."""


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys, deep nesting and alias bombs.

    Merge keys (``<<: *base``) keep YAML's meaning - keys written in the mapping override merged
    ones - but ``<<`` itself, like any key, may appear only once per mapping.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):  # an alias adds no depth where it is written
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise StrictYAMLError(
                    problem=f"nesting deeper than {MAX_DEPTH} levels", problem_mark=mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            self._refuse_duplicates(node)
        return super().construct_mapping(node, deep=deep)

    def _refuse_duplicates(self, node: yaml.MappingNode) -> None:
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                key: Any = "<<"
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
                for sub in [value_node, *merged]:
                    if isinstance(sub, yaml.MappingNode):  # an inline base is checked too
                        self._refuse_duplicates(sub)
            else:
                key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:
                raise StrictYAMLError(
                    problem=f"duplicate key {_show(key)} "
                    f"(first at line {first.start_mark.line + 1})",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node


def _show(key: Any) -> str:
    return f"'{key}'" if isinstance(key, str) else repr(key)


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a tree whose aliases expand past MAX_NODES nodes, or that contains itself.

    Iterative (no recursion), memoised on node identity, so a billion-laughs document costs
    time linear in its written size to refuse.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_NODES:
                raise StrictYAMLError(
                    problem=f"aliases expand to more than {MAX_NODES} nodes",
                    problem_mark=node.start_mark,
                )
            size[key] = total
            continue
        if key in size:
            continue
        if key in on_path:
            raise StrictYAMLError(
                problem="an alias refers to the node that contains it",
                problem_mark=node.start_mark,
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def parse_yaml(text: str, source: str | Path) -> tuple[Any, yaml.Node | None]:
    """Parse YAML ``text`` read from ``source`` with :class:`StrictLoader`.

    Returns the data and its node tree (for line numbers); raises InputError naming
    ``source:line`` for invalid or refused YAML.
    """
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
            data = loader.construct_document(node)
        else:
            data = None
    except StrictYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark else str(source)
        raise InputError(
            f"{where}: {exc.problem}",
            hint="write each key once, without deep nesting or aliases that multiply",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else str(source)
        raise InputError(
            f"{where}: invalid YAML: {exc.problem or exc}",
            hint="fix the YAML syntax at that line (indentation, quotes, colons)",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, node


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Read and parse ``path`` strictly; return the data and its node tree (for line numbers)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read file: {exc}") from None
    return parse_yaml(text, path)


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
        if err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            tag = str(ctx.get("tag", ""))
            tags = re.findall(r"'([^']+)'", str(ctx.get("expected_tags", "")))
            close = difflib.get_close_matches(tag, tags, n=1)
            msg = f"unknown {loc[-1] if loc else 'kind'} {tag!r}" + (
                f" (did you mean '{close[0]}'?)" if close else ""
            )
            msg += f"; one of: {', '.join(tags)}"
        elif err["type"] == "extra_forbidden":
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
        raise InputError(
            f"{path}:1:1: expected a mapping of keys at the top level",
            hint=f"write a {model.__name__} in YAML (key: value lines); is this the right file?",
        )
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise validation_message(exc, path, node, model) from None
