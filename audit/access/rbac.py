"""Role-based access control: roles, permissions and bindings read from a YAML file.

The model, in one paragraph: an *action* (``audit:run``, ``report:approve`` ...) is allowed only
if a role bound to the actor, or a role it inherits, allows it, and no such role denies it.
Everything else is refused: an unknown action, a user without bindings, a role the file does
not define (deny by default). Bindings live in three separate namespaces, ``users`` (OS
accounts), ``groups`` (OS groups of the process) and ``services`` (token subjects), and roles
in a fourth: a user named ``admin`` gains nothing from a role named ``admin``; only a binding
grants roles. An explicit ``deny`` anywhere in the actor's roles (own or inherited) beats every
``allow``. A token can only narrow the roles bound to its service, never add one.

File format (see ``policies/rbac.yaml``)::

    version: 1
    roles:
      engineer:
        description: runs audits and registers artifacts
        inherits: [viewer]
        allow: [audit:run, "registry:*"]
        deny: [report:approve]
    bindings:
      users: {alice: [engineer]}
      groups: {audit-admins: [admin]}
      services: {ci-bot: [ci]}
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InputError
from ..yamlio import locate, parse_yaml, validation_message
from .identity import Actor

#: Every action a command can ask for, with what it lets an actor do. Unknown actions are denied.
ACTIONS: Mapping[str, str] = {
    "registry:read": "list and show registered models and datasets",
    "registry:write": "register a model or dataset",
    "policy:read": "validate, show and scaffold policy files, print the policy schema",
    "audit:run": "run an audit and write a report bundle",
    "audit:explain": "explain a single decision of a model",
    "report:read": "list, show, open, diff reports; gate on a report's outcome",
    "report:export": "export a report outside the reports folder",
    "report:verify": "verify a report bundle's digests and signatures",
    "report:approve": "approve a report (sign off the model for deployment)",
    "keys:manage": "create, export and rotate signing keys",
    "token:issue": "issue a signed token for a service identity",
    "log:read": "show and export the access log",
    "log:verify": "verify the access log's chain and checkpoints",
    "rbac:admin": "show, initialise and change the access-control file",
}

_PREFIXES = sorted({a.split(":", 1)[0] for a in ACTIONS})
_ROLE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def action_matches(pattern: str, action: str) -> bool:
    """``*`` matches every action, ``report:*`` every ``report:`` action, else exact equality."""
    if pattern == "*":
        return True
    if pattern.endswith(":*"):
        return action.startswith(pattern[:-1])
    return pattern == action


def _check_pattern(pattern: str) -> str:
    if pattern == "*" or pattern in ACTIONS:
        return pattern
    if pattern.endswith(":*") and pattern[:-2] in _PREFIXES:
        return pattern
    close = difflib.get_close_matches(pattern, [*ACTIONS, *(f"{p}:*" for p in _PREFIXES)], n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ValueError(f"unknown action '{pattern}'{hint}; known actions: {', '.join(ACTIONS)}")


class RoleSpec(BaseModel):
    """One role: what it allows and denies, and which roles it inherits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    inherits: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)

    @field_validator("allow", "deny")
    @classmethod
    def _known_actions(cls, patterns: list[str]) -> list[str]:
        return [_check_pattern(p) for p in patterns]


class Bindings(BaseModel):
    """Who has which roles, in four separate namespaces."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: dict[str, list[str]] = Field(default_factory=dict)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    services: dict[str, list[str]] = Field(default_factory=dict)
    # subjects of the OIDC issuer `audit serve` trusts (e.g. an e-mail address)
    oidc: dict[str, list[str]] = Field(default_factory=dict)


class RbacFile(BaseModel):
    """The validated content of an RBAC YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    service_account: str | None = Field(
        default=None,
        description="OS account audit runs under via sudo; its SUDO_UID names the real actor",
    )
    roles: dict[str, RoleSpec]
    bindings: Bindings = Field(default_factory=Bindings)

    @field_validator("roles")
    @classmethod
    def _role_names(cls, roles: dict[str, RoleSpec]) -> dict[str, RoleSpec]:
        for name in roles:
            if not re.match(_ROLE_NAME, name):
                raise ValueError(f"role name '{name}' must match {_ROLE_NAME}")
        return roles


@dataclass(frozen=True)
class Decision:
    """The outcome of one permission check, with the reason written to the access log."""

    allowed: bool
    action: str
    resource: str
    reason: str
    roles: tuple[str, ...] = ()

    @property
    def verdict(self) -> Literal["allow", "deny"]:
        return "allow" if self.allowed else "deny"


#: RBAC files already parsed, by (path, sha256 of their bytes): a file is parsed again only when
#: its bytes change. The parsed rules are immutable (frozen models).
_LOADED: dict[tuple[str, str], Rbac] = {}


class Rbac:
    """A loaded RBAC file: decides whether an actor may perform an action.

    ``sha256`` is the digest of the file's bytes, recorded in every access-log entry so an auditor
    knows which rules were in force.
    """

    def __init__(self, spec: RbacFile, *, source: str, sha256: str) -> None:
        self.spec = spec
        self.source = source
        self.sha256 = sha256

    @classmethod
    def load(cls, path: Path) -> Rbac:
        """Read and validate ``path``; raise InputError naming the file, line and field."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InputError(
                f"{path}: RBAC file not found",
                hint="create one with `audit rbac init`, or pass the path of an existing one",
            ) from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read the RBAC file: {exc}") from None
        digest = hashlib.sha256(raw).hexdigest()
        cached = _LOADED.get((str(path), digest))
        if cached is not None:  # the same bytes parsed before (a service reads it per request)
            return cached
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: cannot read the RBAC file: {exc}") from None
        data, node = parse_yaml(text, path)
        if not isinstance(data, dict):
            raise InputError(f"{path}:1:1: expected a mapping with keys version, roles, bindings")
        try:
            spec = RbacFile.model_validate(data)
        except ValidationError as exc:
            raise validation_message(exc, path, node, RbacFile) from None
        _check_references(spec, path, node)
        loaded = cls(spec, source=str(path), sha256=digest)
        if len(_LOADED) > 64:
            _LOADED.clear()
        _LOADED[(str(path), digest)] = loaded
        return loaded

    def bound_roles(self, actor: Actor) -> list[str]:
        """Roles granted to ``actor`` by bindings, in file order, without duplicates."""
        b = self.spec.bindings
        if actor.source == "token":
            found = list(b.services.get(actor.user, []))
        elif actor.source == "oidc":
            found = list(b.oidc.get(actor.user, []))
        elif actor.source == "anonymous":
            found = []
        else:
            found = list(b.users.get(actor.user, []))
            for group in actor.groups:
                found += b.groups.get(group, [])
        return list(dict.fromkeys(found))

    def service_roles(self, subject: str) -> list[str]:
        """Every role a token for the service ``subject`` can carry: its bound roles and the
        roles they inherit (a token narrows these, never adds one)."""
        return self._closure(list(self.spec.bindings.services.get(subject, [])))

    def _closure(self, roles: Sequence[str]) -> list[str]:
        out: list[str] = []
        stack = list(reversed(roles))
        while stack:
            name = stack.pop()
            if name in out or name not in self.spec.roles:
                continue
            out.append(name)
            stack += reversed(self.spec.roles[name].inherits)
        return out

    def decide(self, actor: Actor, action: str, resource: str = "") -> Decision:
        """Allow ``action`` only if a role of ``actor`` allows it and none denies it."""

        def deny(reason: str, roles: Sequence[str] = ()) -> Decision:
            return Decision(False, action, resource, reason, tuple(roles))

        if action not in ACTIONS:
            close = difflib.get_close_matches(action, list(ACTIONS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            return deny(f"unknown action '{action}'{hint}: denied by default")
        bound = self.bound_roles(actor)
        if actor.roles is not None:
            undefined = [r for r in actor.roles if r not in self.spec.roles]
            if undefined:
                return deny(
                    f"token names role(s) not defined in {self.source}: {', '.join(undefined)}"
                )
            not_bound = [r for r in actor.roles if r not in bound]
            if not_bound:
                return deny(
                    f"token names role(s) not bound to {actor.label} in {self.source}: "
                    f"{', '.join(not_bound)} (a token can narrow roles, never add one)"
                )
            bound = [r for r in bound if r in actor.roles]
        if not bound:
            return deny(f"no role is bound to {actor.label} in {self.source} (deny by default)")
        roles = self._closure(bound)
        for role in roles:
            for pattern in self.spec.roles[role].deny:
                if action_matches(pattern, action):
                    return deny(f"role '{role}' denies '{action}' (explicit deny)", roles)
        for role in roles:
            for pattern in self.spec.roles[role].allow:
                if action_matches(pattern, action):
                    return Decision(
                        True, action, resource, f"role '{role}' allows '{action}'", tuple(roles)
                    )
        return deny(f"missing permission '{action}' (roles: {', '.join(roles)})", roles)


def _check_references(spec: RbacFile, path: Path, node: yaml.Node | None) -> None:
    """Every inherited or bound role must exist, and inheritance must not loop."""
    problems: list[str] = []
    names = list(spec.roles)

    def bad(loc: Sequence[int | str], role: str) -> None:
        pos, _ = locate(node, loc)
        where = f"{path}:{pos[0]}:{pos[1]}" if pos else str(path)
        close = difflib.get_close_matches(role, names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        dotted = ".".join(str(p) for p in loc)
        problems.append(f"{where}: {dotted}: role '{role}' is not defined under roles{hint}")

    for name, role in spec.roles.items():
        for i, parent in enumerate(role.inherits):
            if parent not in spec.roles:
                bad(["roles", name, "inherits", i], parent)
    for kind in ("users", "groups", "services"):
        for subject, roles in getattr(spec.bindings, kind).items():
            for i, r in enumerate(roles):
                if r not in spec.roles:
                    bad(["bindings", kind, subject, i], r)
    cycle = _find_cycle({n: r.inherits for n, r in spec.roles.items()})
    if cycle:
        pos, _ = locate(node, ["roles", cycle[0], "inherits"])
        where = f"{path}:{pos[0]}:{pos[1]}" if pos else str(path)
        problems.append(f"{where}: roles inherit in a loop: {' -> '.join(cycle)}")
    if problems:
        raise InputError("\n".join(problems), hint="define the role, or correct its name")


def _find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                return [*path[path.index(m) :], m]
            if m in graph and m not in state:
                found = visit(m)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return None

    for n in graph:
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def default_rbac_path() -> Path:
    """The shipped default: ``<repo>/policies/rbac.yaml``, or the copy inside the package."""
    repo = Path(__file__).resolve().parents[2] / "policies" / "rbac.yaml"
    return repo if repo.is_file() else Path(__file__).resolve().parent / "rbac.default.yaml"


def init_rbac(path: Path, admin: Actor, *, template: Path | None = None) -> Rbac:
    """Write a new RBAC file at ``path``: the default roles, with ``admin`` bound as ``admin``.

    This is how a fresh install gets its first administrator (``audit rbac init``): the shipped
    default binds nobody, so that deny-by-default means something. Refuses to overwrite a file.
    """
    path = Path(path)
    if path.exists():
        raise InputError(
            f"{path} already exists; refusing to overwrite the access-control file",
            hint="edit it (with the rbac:admin permission), or remove it deliberately first",
        )
    if admin.source != "os":
        raise InputError("only an OS account can be bound by `audit rbac init`, not a token")
    text = (template or default_rbac_path()).read_text(encoding="utf-8")
    marker = "  users: {}"
    if marker not in text:
        raise InputError(f"{template}: no '{marker}' line to bind the first administrator under")
    text = text.replace(marker, f"  users:\n    {json.dumps(admin.user)}: [admin]", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as fh:  # "x": never clobber a concurrent init
        fh.write(text)
    return Rbac.load(path)
