"""Policy files: the one place an organisation states what "fair and explainable enough" means.

A policy is YAML (``apiVersion: audit/v1``, ``kind: Policy``), validated strictly: unknown keys,
wrong types and unknown metrics are errors that name the file, line and column and suggest the
nearest valid name. Rule kinds are a discriminated union on ``kind`` (one module each in
:mod:`.rules`); each kind knows which metrics it may compare. A policy may ``extends`` others
(shipped packs by name, or paths); a rule with the same id overrides the inherited one, and cycles
are errors.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from ..errors import InputError
from ..yamlio import load_model, locate, read_yaml
from .rules import AnyRule, Rule
from .rules.interface import ID_PATTERN, Strict


class Waiver(Strict):
    """An accepted failure of one rule: who approved it, why, and until when."""

    rule: str
    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    expires: date


class ChecklistItem(Strict):
    """An obligation the policy tracks: evidenced by a section of the report, or left to the provider.

    ``evidence`` names the report section that evidences the item (``fairness``, ``performance``,
    ``explanations``, ``data``, ``provenance``, ``rules``), or is ``provider`` or ``deployer`` when
    the report cannot evidence it and that party (the provider under the EU AI Act, the deployer
    under Colorado's SB26-189) must complete it by hand.
    """

    id: str
    reference: str
    text: str
    evidence: Literal[
        "fairness",
        "performance",
        "explanations",
        "data",
        "provenance",
        "rules",
        "provider",
        "deployer",
    ]


class PolicyDocument(Strict):
    """One policy file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: Literal["audit/v1"] = Field(alias="apiVersion")
    kind: Literal["Policy"]
    name: str = Field(pattern=ID_PATTERN)
    version: str
    description: str | None = None
    references: list[str] = Field(default_factory=list)
    checked: date | None = Field(
        None,
        description="the date this file's references and text were last checked against the "
        "sources they cite (YYYY-MM-DD); shown beside the references in the report. Not "
        "inherited: a policy that extends a pack states its own",
    )
    not_covered: list[str] = Field(
        default_factory=list, description="what this policy does not check (shown in the report)"
    )
    extends: list[str] = Field(
        default_factory=list, description="packs in policies/ by name, or paths to policy files"
    )
    min_group_size: int | None = Field(
        None, ge=1, description="groups smaller than this are reported but not judged (default 30)"
    )
    exclude_below_share: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="leave groups under this share of the data out of impact ratios (NYC LL144: 0.02)",
    )
    reference_group: Literal["most_favoured", "largest"] | dict[str, str] = Field(
        "most_favoured", description="most_favoured, largest, or {feature: group}"
    )
    correction: Literal["holm", "bh", "none"] | None = Field(
        None,
        description="how a rule's p-values are adjusted across all the comparisons it makes "
        "(groups, features, intersections): holm (default), bh (Benjamini-Hochberg), none",
    )
    on_inconclusive: Literal["fail", "warn", "pass"] | None = Field(
        None,
        description="what a rule whose evidence can neither confirm nor rule out a breach "
        "(modes bound and significance) counts as: fail, warn (default) or pass",
    )
    rules: list[Rule] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)
    checklist: list[ChecklistItem] = Field(
        default_factory=list,
        description="obligations: evidenced by the report, or left to the provider",
    )
    report_sections: list[Literal["nyc_ll144_summary"]] = Field(
        default_factory=list, description="extra report sections a regulation requires"
    )


DEFAULT_MIN_GROUP_SIZE = 30


@dataclass(frozen=True)
class RuleOrigin:
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Policy:
    """A validated policy with every inherited rule resolved, and where each came from."""

    document: PolicyDocument
    path: Path
    sha256: str
    rules: list[AnyRule]
    origins: dict[str, RuleOrigin]
    waivers: list[Waiver]
    waiver_lines: dict[int, RuleOrigin]
    checklist: list[ChecklistItem] = field(default_factory=list)
    report_sections: list[str] = field(default_factory=list)
    sources: list[tuple[Path, str]] = field(default_factory=list)
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    exclude_below_share: float | None = None
    reference_group: Any = "most_favoured"
    correction: str = "holm"
    on_inconclusive: str = "warn"

    @property
    def name(self) -> str:
        return self.document.name

    def where(self, rule_id: str) -> str:
        origin = self.origins.get(rule_id)
        return str(origin) if origin else str(self.path)


def packs_dir() -> Path:
    """The shipped policy packs: ``<repo>/policies``, or the copy inside an installed package."""
    repo = Path(__file__).resolve().parents[2] / "policies"
    return repo if repo.is_dir() else Path(__file__).resolve().parent / "packs"


def _resolve_base(ref: str, parent: Path, where: str) -> Path:
    if "/" not in ref and not ref.endswith((".yaml", ".yml")):
        path = packs_dir() / f"{ref}.yaml"
        if not path.is_file():
            packs = sorted(p.stem for p in packs_dir().glob("*.yaml") if p.name != "rbac.yaml")
            close = difflib.get_close_matches(ref, packs, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InputError(
                f"{where}: extends: no policy pack named {ref!r}",
                hint=f"{hint}shipped packs: {', '.join(packs)}; or give a path to a .yaml file",
            )
        return path.resolve()
    path = (parent / ref).resolve()
    if not path.is_file():
        raise InputError(f"{where}: extends: {ref} ({path}) does not exist", hint="check the path")
    return path


@dataclass
class _Resolved:
    rules: dict[str, tuple[AnyRule, RuleOrigin]]
    waivers: list[tuple[Waiver, RuleOrigin]]
    checklist: dict[str, ChecklistItem]
    sections: list[str]
    sources: list[tuple[Path, str]]
    min_group_size: int | None
    exclude_below_share: float | None
    reference_group: Any
    correction: str | None = None
    on_inconclusive: str | None = None


#: Policy-wide settings a policy inherits from what it extends unless it sets them itself.
_INHERITED = (
    "min_group_size",
    "exclude_below_share",
    "reference_group",
    "correction",
    "on_inconclusive",
)


def _load(path: Path, stack: tuple[Path, ...]) -> tuple[PolicyDocument, _Resolved]:
    document = load_model(path, PolicyDocument)
    _, node = read_yaml(path)
    resolved = _Resolved({}, [], {}, [], [], None, None, None)
    for i, ref in enumerate(document.extends):
        pos, _ = locate(node, ["extends", i])
        where = f"{path}:{pos[0]}" if pos else str(path)
        base_path = _resolve_base(ref, path.parent, where)
        if base_path in stack or base_path == path.resolve():
            chain = " -> ".join(p.name for p in (*stack, path.resolve(), base_path))
            raise InputError(
                f"{where}: extends: cycle in policy inheritance ({chain})",
                hint="remove one of the extends entries so that no policy inherits from itself",
            )
        _, base = _load(base_path, (*stack, path.resolve()))
        resolved.rules.update(base.rules)
        resolved.waivers += base.waivers
        resolved.checklist.update(base.checklist)
        resolved.sections += [x for x in base.sections if x not in resolved.sections]
        resolved.sources += [s for s in base.sources if s not in resolved.sources]
        for attr in _INHERITED:
            if getattr(resolved, attr) is None:
                setattr(resolved, attr, getattr(base, attr))
    own: dict[str, int] = {}
    for i, rule in enumerate(document.rules):
        pos, _ = locate(node, ["rules", i, "id"])
        line = pos[0] if pos else 0
        if rule.id in own:
            raise InputError(
                f"{path}:{line}: rules[{i}].id: duplicate rule id {rule.id!r} "
                f"(first defined at line {own[rule.id]})",
                hint="give every rule its own id (to override an inherited rule, define it once)",
            )
        own[rule.id] = line
        resolved.rules[rule.id] = (rule, RuleOrigin(path, line))  # overrides an inherited rule
    resolved.checklist.update({item.id: item for item in document.checklist})
    resolved.sections += [x for x in document.report_sections if x not in resolved.sections]
    for i, waiver in enumerate(document.waivers):
        pos, _ = locate(node, ["waivers", i, "rule"])
        resolved.waivers.append((waiver, RuleOrigin(path, pos[0] if pos else 0)))
    resolved.sources.append((path, hashlib.sha256(path.read_bytes()).hexdigest()))
    for attr in _INHERITED:
        if attr in document.model_fields_set:
            setattr(resolved, attr, getattr(document, attr))
    return document, resolved


def load_policy(path: Path) -> Policy:
    """Read, validate and resolve a policy file (and what it extends).

    Raises InputError naming the file and line for every problem: YAML syntax, unknown key, wrong
    type, unknown metric, duplicate rule id, unknown pack, cycle in ``extends``, a waiver for a rule
    the policy does not have, a trend rule following no rule, and a policy that ends up with no rules at all.
    """
    if not path.is_file():
        raise InputError(f"policy file {path} does not exist", hint="check the `policy` path")
    path = path.resolve()
    document, resolved = _load(path, ())
    if not resolved.rules:
        raise InputError(
            f"{path}: the policy has no rules (an empty policy would pass anything)",
            hint="add rules, or extend a pack such as four-fifths",
        )
    for waiver, origin in resolved.waivers:
        if waiver.rule not in resolved.rules:
            close = difflib.get_close_matches(waiver.rule, list(resolved.rules), n=1)
            raise InputError(
                f"{origin}: waivers: no rule {waiver.rule!r} to waive"
                + (f" (did you mean '{close[0]}'?)" if close else ""),
                hint="a waiver names the id of a rule in this policy or one it extends",
            )
    for rule, origin in resolved.rules.values():
        followed = getattr(rule, "rule", None) if rule.kind == "trend" else None
        if followed is not None and (
            followed not in resolved.rules or resolved.rules[followed][0].kind == "trend"
        ):
            others = [r for r, (x, _) in resolved.rules.items() if x.kind != "trend"]
            close = difflib.get_close_matches(followed, others, n=1)
            raise InputError(
                f"{origin}: rule {rule.id}: no rule {followed!r} to follow"
                + (f" (did you mean '{close[0]}'?)" if close else ""),
                hint="a trend rule names the id of another (not a trend) rule of this policy",
            )
    if len(resolved.sources) == 1:
        digest = resolved.sources[0][1]
    else:
        listing = "".join(f"{sha}  {p.name}\n" for p, sha in resolved.sources)
        digest = hashlib.sha256(listing.encode()).hexdigest()
    return Policy(
        document=document,
        path=path,
        sha256=digest,
        rules=[rule for rule, _ in resolved.rules.values()],
        origins={rid: origin for rid, (_, origin) in resolved.rules.items()},
        waivers=[w for w, _ in resolved.waivers],
        waiver_lines={i: o for i, (_, o) in enumerate(resolved.waivers)},
        checklist=list(resolved.checklist.values()),
        report_sections=resolved.sections,
        sources=resolved.sources,
        min_group_size=resolved.min_group_size or DEFAULT_MIN_GROUP_SIZE,
        exclude_below_share=resolved.exclude_below_share,
        reference_group=resolved.reference_group or "most_favoured",
        correction=resolved.correction or "holm",
        on_inconclusive=resolved.on_inconclusive or "warn",
    )


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema of a policy file, for editors (published as policies/policy.schema.json)."""
    schema = PolicyDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "audit policy (apiVersion audit/v1)"
    return schema
