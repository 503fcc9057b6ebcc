"""The audit pipeline: resolve, load, check, decide, measure, explain, judge.

Pure library code: it returns an :class:`AuditResult` (plain data) and performs no output. Stage
timings are recorded for the CLI's ``--verbose``; they are not part of the report, which must be
the same for the same inputs and seed.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import metadata
from typing import Any

from .. import contract
from ..access import Actor
from ..errors import InputError
from ..fairness.counters import RESOLUTION
from ..loaders import LoadedModel
from ..policy import Evidence, Finding, Policy, evaluate, load_policy, outcome, summarise
from ..readonce import Copied
from ..registry import Registry
from ..registry.resolve import Artifacts, system_name
from ..spec import ResolvedSpec
from .drift import _drift_plan
from .explaining import _explain, _explain_columns
from .load import (
    _check_adverse,
    _finish_model_info,
    _load_baseline,
    _load_history,
    _load_model,
)

LIBRARIES = (
    "xgboost",
    "lightgbm",
    "onnx",
    "onnxruntime",
    "pyhanko",
    "numpy",
    "pandas",
    "scikit-learn",
    "shap",
    "fairlearn",
    "skops",
    "pyarrow",
    "jinja2",
    "weasyprint",
    "cryptography",
    "pydantic",
)


@dataclass
class AuditResult:
    """Everything an audit found, as typed report sections; the report is built from this."""

    name: str
    subject: contract.Subject
    outcome: str
    findings: list[Finding]
    fairness: dict[str, contract.FeatureFairness]
    performance: contract.Performance
    explanations: contract.Explanations
    data: contract.DataProfile
    baseline: contract.BaselineRef | None
    drift: contract.Drift | None
    settings: contract.Settings
    environment: contract.Environment
    actor: Actor
    timings: dict[str, float] = field(default_factory=dict)
    #: per-decision reasons (explain.DecisionReasons) for reasons.csv; not part of report.json
    #: (or an audit.explain.ReasonsSpool: the reasons.csv of every adverse decision)
    decisions: Any = None
    #: the task (binary, multiclass, regression) and the report sections beyond the binary
    #: ones, by Report field name (regression, multiclass, counterfactual, shift)
    task: str = "binary"
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        return summarise(self.findings)


def environment() -> contract.Environment:
    libs = {}
    for name in LIBRARIES:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return contract.Environment(
        python=platform.python_version(), platform=platform.platform(), libraries=libs
    )


#: The stages of an audit, in order (progress reporting counts them).
STAGES = (
    "policy",
    "load model",
    "load dataset",
    "load reference",
    "summarise",
    "fairness",
    "explanations",
    "reasons",
    "drift",
    "policy evaluation",
)


class _Stages:
    def __init__(self, on_stage: Callable[[str], None] | None = None) -> None:
        self.timings: dict[str, float] = {}
        self.on_stage = on_stage

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.on_stage is not None:
            self.on_stage(name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = time.perf_counter() - t0


def run_audit(
    resolved: ResolvedSpec,
    *,
    actor: Actor,
    registry: Registry | None = None,
    policy: Policy | None = None,
    today: date | None = None,
    on_stage: Callable[[str], None] | None = None,
    allow_pickle_digest: str | None = None,
    on_artifact: Callable[[str, Copied], None] | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> AuditResult:
    """Run the audit ``resolved`` describes; raise AuditError subclasses on bad input.

    The model and datasets are each read once, into a private copy that is hashed while it is
    written and then loaded (see :mod:`audit.readonce`); the copies are removed when the audit
    returns or fails. ``on_artifact(role, copied)`` is told of each copy (role ``model``,
    ``dataset`` or ``reference``) once it is made and before it is loaded.
    """
    name = system_name(resolved)  # before anything is read: a bad derived name is bad input
    artifacts = Artifacts(registry, on_artifact)
    with artifacts.copies:
        return _run(
            resolved,
            name,
            artifacts,
            actor=actor,
            policy=policy,
            today=today,
            on_stage=on_stage,
            allow_pickle_digest=allow_pickle_digest,
            on_progress=on_progress,
        )


def _run(
    resolved: ResolvedSpec,
    name: str,
    artifacts: Artifacts,
    *,
    actor: Actor,
    policy: Policy | None,
    today: date | None,
    on_stage: Callable[[str], None] | None,
    allow_pickle_digest: str | None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> AuditResult:
    from ..data import DatasetRequirements, validate
    from ..engine import DataSource, Plan, choose, finalize, summarise
    from ..engine.tasks import extension_sections, extensions
    from ..engine.tasks import finalize as finalize_task
    from ..explain import ExplanationUnavailable, load_reason_codes

    spec = resolved.spec
    st = _Stages(on_stage)
    with st.stage("policy"):
        policy = policy or load_policy(resolved.policy)
        baseline, baseline_info = _load_baseline(resolved.baseline, artifacts.copies)

    model: LoadedModel | None = None
    model_info: dict[str, Any] | None = None
    with st.stage("load model"):
        if resolved.model is not None:
            model, model_info = _load_model(resolved, artifacts, allow_pickle_digest)
        elif allow_pickle_digest:
            raise InputError("--allow-pickle applies to a registered model; this audit has none")
        reason_codes = load_reason_codes(resolved.reason_codes) if resolved.reason_codes else None
        if spec.explain.rows == "adverse":
            _check_adverse(model, reason_codes)

    with st.stage("load dataset"):
        data_copy, data_info = artifacts.resolve(resolved.dataset, "dataset", "dataset")
        features = model.feature_names if model else None
        wanted = [c for c in (spec.label, *spec.sensitive_features) if c is not None]
        wanted += [c for c in (spec.predictions, spec.scores) if c]
        wanted += features or []
        columns = (
            list(dict.fromkeys(wanted)) + ([spec.id_column] if spec.id_column else [])
            if features
            else None
        )
        source = resolved.dataset.display()
        data = DataSource(
            data_copy.path,
            source,
            tuple(columns) if columns else None,
            dict(spec.dtypes),
            spec.engine.batch_rows,
        )
        requirements = DatasetRequirements(
            spec.label,
            spec.positive_label,
            tuple(spec.sensitive_features),
            spec.predictions,
            spec.scores,
            spec.id_column,
            spec.task,
            tuple(spec.classes) if spec.classes else None,
        )
        backend = choose(spec.engine.backend, data)
        frame = None
        if backend == "memory":
            frame = artifacts.read_table(
                data_copy, resolved.dataset, columns=columns, dtypes=spec.dtypes
            )
            validate(frame, requirements, model, source=source, header=data.available())
            present = list(frame.columns)
        else:
            present = data.wanted()
        if spec.id_column and spec.id_column not in present:
            raise InputError(
                f"dataset {source}: id_column {spec.id_column!r} is missing",
                hint="name the dataset's row-id column, or remove id_column",
            )
        if spec.data_description:
            data_info["description"] = spec.data_description
        elif (data_info.get("metadata") or {}).get("description"):
            data_info["description"] = data_info["metadata"]["description"]

    with st.stage("load reference"):
        drift_plan, reference_info = None, None
        if resolved.reference is not None:
            drift_plan, reference_info = _drift_plan(resolved, artifacts, model, features, present)

    plan = Plan(
        requirements=requirements,
        source=source,
        model=model,
        features=tuple(features) if features else None,
        used=tuple(c for c in (features or []) if c in present),
        score_threshold=spec.score_threshold,
        explain_columns=_explain_columns(spec, features, present) if model else None,
        population=None if spec.explain.rows == "all" else spec.explain.population,
        seed=spec.seed,
        forced_ids=frozenset(map(str, spec.explain.rows))
        if isinstance(spec.explain.rows, list)
        else None,
        drift=drift_plan,
        keep_decisions=spec.explain.rows == "adverse",
        task=spec.task,
        classes=tuple(spec.classes) if spec.classes else None,
        header=tuple(data.available()),
        extensions=extensions(spec, model, present, base=resolved.base, frame=frame, source=data),
    )
    with st.stage("summarise"):
        stats = summarise(plan, backend, spec.engine, data, frame, on_progress)
        if spec.explain.rows != "adverse":
            del frame  # the statistics (and the explanation sample) are all that is kept
        data_info.update(
            rows=int(stats.rows),
            label=spec.label,
            positive_label=spec.positive_label,
            sensitive_features=list(spec.sensitive_features),
            decisions="model" if model else "recorded",
        )

    for step, seconds in stats.timings.seconds.items():
        st.timings[f"summarise/{step}"] = seconds
    with st.stage("fairness"):
        options = finalize.FairnessOptions(
            reference=policy.reference_group,
            min_group_size=policy.min_group_size,
            exclude_below_share=policy.exclude_below_share,
            n_bootstrap=spec.fairness.n_bootstrap,
            confidence=spec.fairness.confidence,
            seed=spec.seed,
        )
        sections: dict[str, Any] = {}
        if spec.task == "binary":
            fairness = finalize.fairness(stats, list(spec.sensitive_features), options).to_report()
            performance = finalize.performance(stats).to_report()
        else:
            done = finalize_task(spec.task, stats, spec, options)
            fairness, performance, sections = done.fairness, done.performance, done.sections
        sections.update(extension_sections(spec, stats, options))
        # base rates and the label balance are of a binary label: None for the other tasks
        counted = stats if spec.task == "binary" else replace(stats, labelled=False)
        profile = finalize.profile(counted, list(spec.sensitive_features))
        y_true_known = stats.labelled

    with st.stage("explanations"):
        decisions: Any = None  # DecisionReasons, or a ReasonsSpool (every adverse decision)
        explanation = None
        if model is None:
            explanations: contract.Explanations = contract.Skipped(
                status="skipped",
                reason="the audit judges recorded decisions; there is no model to explain",
            )
        else:
            try:
                explanation = _explain(spec, model, features, stats, reason_codes)
            except ExplanationUnavailable as exc:
                explanation = None
                explanations = contract.Skipped(status="skipped", reason=exc.reason)

    with st.stage("reasons"):
        if explanation is not None:
            if explanation.row_explainer is not None:  # explain.rows: adverse
                from ..engine import run_reasons
                from ..explain.reasons import ReasonsSpool

                decisions = ReasonsSpool()
                tally = run_reasons(
                    plan,
                    backend,
                    spec.engine,
                    data,
                    frame,
                    explanation,
                    decisions,
                    on_progress,
                    stats.decisions,
                )
                explanation = replace(explanation, rows="adverse", all_reasons=tally)
            elif reason_codes is not None:
                decisions = list(explanation.decision_reasons())
            explanations = explanation.to_report()
        frame = None

    with st.stage("drift"):
        drift = None
        if drift_plan is not None:
            drift = drift_plan.finalize(stats.drift).to_report()

    with st.stage("policy evaluation"):
        from ..policy.trend import trend_section

        history = _load_history(resolved.output, name)
        evidence = Evidence(
            fairness=fairness,
            performance=performance,
            explanations=explanations,
            data=profile,
            model_metadata=(model_info or {}).get("metadata"),
            model_registered=bool(model_info and model_info["source"] == "registry"),
            baseline=baseline,
            drift=drift,
            has_label=y_true_known,
            task=spec.task,
            history=history,
            **sections,
        )
        findings = evaluate(policy, evidence, today or date.today())
        trend = trend_section(history, findings)
        if trend is not None:
            sections["trend"] = trend

    _finish_model_info(model, model_info)
    doc = policy.document
    subject = contract.Subject.model_validate(
        {
            "name": name,
            "model": model_info,
            "dataset": data_info,
            "reference": reference_info,
            "policy": {
                "name": doc.name,
                "version": doc.version,
                "sha256": policy.sha256,
                "path": policy.path.name,
                "description": doc.description,
                "references": list(doc.references),
                **({"checked": doc.checked.isoformat()} if doc.checked else {}),
                "not_covered": list(doc.not_covered),
                "checklist": [item.model_dump() for item in policy.checklist],
                "report_sections": list(policy.report_sections),
                "sources": [p.name for p, _ in policy.sources],
            },
        }
    )
    settings = contract.Settings(
        **{
            "seed": spec.seed,
            "explain_sample_size": spec.explain.sample_size,
            "explain_background_size": spec.explain.background_size,
            "min_group_size": policy.min_group_size,
            "distribution_date": spec.distribution_date,
            "score_threshold": spec.score_threshold
            if model is None and not spec.predictions
            else None,
            "score_resolution": RESOLUTION if stats.rounded else None,
        }
    )
    return AuditResult(
        name=name,
        subject=subject,
        outcome=outcome(findings),
        findings=findings,
        fairness=fairness,
        performance=performance,
        explanations=explanations,
        data=profile,
        baseline=None if baseline_info is None else contract.BaselineRef(**baseline_info),
        drift=drift,
        settings=settings,
        environment=environment(),
        decisions=decisions,
        actor=actor,
        timings=st.timings,
        task=spec.task,
        sections=sections,
    )
