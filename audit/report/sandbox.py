"""The sandbox report templates run in: files confined to the template folder, bounded work.

Users may point ``templates`` at their own folder, so a template is untrusted input:

* :class:`ConfinedLoader` reads every template (and every ``include``/``extends``/``import``)
  through :func:`audit.safefs.read_file` with ``root`` the template folder: a symlink anywhere
  below it, a name with ``..`` or an absolute path is refused (exit 2), and so are hard links
  and files holding a PEM private key (:func:`read_template_file`, also used for the stylesheet
  and the PDF's images), so a link planted in a templates folder cannot copy a private key into
  report.html and the signed PDF;
* :class:`BoundedSandbox` is Jinja2's immutable sandbox with a time budget and an output bound:
  every loop iterates through a guard (the template's syntax tree is rewritten so that
  ``{% for x in xs %}`` reads ``{% for x in __audit_iter(xs) %}``), every call, attribute access,
  filter and ``*``/``**``/``+`` is checked against the deadline, results of filters and
  arithmetic longer than the output bound are refused, and the renderer streams the output and
  stops at the bound. A runaway template ends in :class:`TemplateLimit` (a Jinja2
  ``SecurityError``), which the renderer reports as an InputError naming the template.

What this does not do: interrupt one single C-level operation already running. The bounds keep
every such operation small (``range`` is capped by the sandbox, ``**`` exponents and sequence
repetition are checked before they run).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import InputError
from ..safefs import open_regular

#: Largest template (or stylesheet) file read.
MAX_TEMPLATE_BYTES = 1 << 20
#: Largest rendered page, and largest string or list one expression may build.
MAX_OUTPUT_CHARS = 64 << 20
#: Wall-clock budget of one render, template compilation included.
MAX_RENDER_SECONDS = 30.0
_MAX_POWER_BITS = 4096


class TemplateLimit(jinja2.exceptions.SecurityError):
    """A template went past the time or output bound of :class:`BoundedSandbox`."""


def read_template_file(path: Path, root: Path) -> bytes:
    """A file of the template folder ``root`` (template, stylesheet, image), read without
    following a link below ``root``; a hard link (the same file as one elsewhere, such as a
    key) and anything holding a PEM private key are refused: nothing secret reaches a report."""
    with open_regular(path, root=root, limit=MAX_TEMPLATE_BYTES) as fh:
        if os.fstat(fh.fileno()).st_nlink > 1:
            raise InputError(
                f"refusing to read {path}: it is a hard link (the same file as one elsewhere)",
                hint="copy the file into the template folder instead of linking it",
            )
        data = fh.read()
    if b"PRIVATE KEY-----" in data:
        raise InputError(
            f"refusing to use {path}: it holds a private key",
            hint="a template folder holds templates, stylesheets and images only",
        )
    return data


class ConfinedLoader(jinja2.BaseLoader):
    """Templates from ``root`` only, read without following any symlink below it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        name = PurePosixPath(template)
        if name.is_absolute() or ".." in name.parts or "\\" in template or not name.parts:
            raise InputError(
                f"template {template!r} is outside the template folder {self.root}",
                hint="include templates by a plain relative name inside the template folder",
            )
        path = self.root.joinpath(*name.parts)
        if not path.exists() and not path.is_symlink():
            raise jinja2.TemplateNotFound(template)
        data = read_template_file(path, self.root)
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"template {path} is not UTF-8 text: {exc}") from None
        return source, str(path), lambda: False


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with a deadline and an output bound (see the module doc)."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self, *args: Any, seconds: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seconds = MAX_RENDER_SECONDS if seconds is None else seconds
        self.deadline = time.monotonic() + self.seconds
        self.globals["__audit_iter"] = self.guarded_iter

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"the template ran longer than {self.seconds:g} s")

    def check_size(self, value: Any) -> Any:
        if isinstance(value, str | bytes | list | tuple) and len(value) > MAX_OUTPUT_CHARS:
            raise TemplateLimit(f"the template built a value of more than {MAX_OUTPUT_CHARS} items")
        return value

    def guarded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for n, item in enumerate(iterable):
            if n % 256 == 0:
                self.check_time()
            yield item

    def wrap_filters(self) -> None:
        """Make every filter check the deadline before and the size of what it returns."""
        for name, func in list(self.filters.items()):
            self.filters[name] = self._bounded(func)

    def _bounded(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)  # keeps jinja's pass_context / pass_environment marks
        def bounded(*args: Any, **kwargs: Any) -> Any:
            self.check_time()
            return self.check_size(func(*args, **kwargs))

        return bounded

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        __self.check_time()
        return __self.check_size(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.check_time()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.check_time()
        if operator == "**" and _huge_power(left, right):
            raise TemplateLimit(f"{left} ** {right} is too large a number for a report")
        if operator == "*" and _repeats(left, right) + _repeats(right, left) > MAX_OUTPUT_CHARS:
            raise TemplateLimit("the template repeats a value past the output bound")
        return self.check_size(super().call_binop(context, operator, left, right))

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            guard = nodes.Name("__audit_iter", "load", lineno=loop.lineno)
            loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
        tree.set_environment(self)
        return tree


def _huge_power(base: Any, exponent: Any) -> bool:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return False
    return max(abs(base), 2).bit_length() * exponent > _MAX_POWER_BITS


def _repeats(seq: Any, times: Any) -> int:
    """How many items ``seq * times`` would hold (0 when it is not a repetition)."""
    if isinstance(seq, str | list | tuple) and isinstance(times, int):
        return len(seq) * times
    return 0


def render_bounded(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render ``template`` streaming, refusing output past :data:`MAX_OUTPUT_CHARS`."""
    env = template.environment
    parts: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateLimit(f"the rendered page is larger than {MAX_OUTPUT_CHARS} characters")
        if isinstance(env, BoundedSandbox):
            env.check_time()
        parts.append(chunk)
    return "".join(parts)
