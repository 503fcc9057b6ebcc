"""The audit pipeline: resolve, load, check, decide, measure, explain, judge.

Pure library code: it returns an :class:`AuditResult` (plain data) and performs no output. Stage
timings are recorded for the CLI's ``--verbose``; they are not part of the report, which must be
the same for the same inputs and seed.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .access import Actor
from .data import check_columns, data_profile, is_positive, read_table
from .digest import sha256_file
from .errors import InputError
from .loaders import LoadedModel, load_model
from .policy import Evidence, Finding, Policy, evaluate, load_policy, outcome, summarise
from .registry import Registry
from .spec import Ref, ResolvedSpec

LIBRARIES = (
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
    """Everything an audit found, as plain data; the report is rendered from this."""

    name: str
    subject: dict[str, Any]
    outcome: str
    findings: list[Finding]
    fairness: dict[str, Any]
    performance: dict[str, Any]
    explanations: dict[str, Any]
    data: dict[str, Any]
    settings: dict[str, Any]
    environment: dict[str, Any]
    actor: Actor
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        return summarise(self.findings)


def environment() -> dict[str, Any]:
    libs = {}
    for name in LIBRARIES:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "platform": platform.platform(), "libraries": libs}


class _Stages:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = time.perf_counter() - t0


def _resolve_file(ref: Ref, kind: str, registry: Registry | None) -> tuple[Path, dict[str, Any]]:
    """The file to read for ``ref`` and its subject description (digest checked for registry)."""
    if ref.path is not None:
        if not ref.path.is_file():
            raise InputError(
                f"{kind} file {ref.path} does not exist",
                hint=f"check the `{kind}` path, or use a registered name@version",
            )
        return ref.path, {
            "name": ref.path.stem,
            "version": None,
            "sha256": sha256_file(ref.path),
            "source": "path",
            "path": ref.path.name,
        }
    if registry is None:
        raise InputError(f"{kind} {ref.display()} refers to the registry, but none was given")
    assert ref.name is not None and ref.version is not None
    art = registry.get(kind, ref.name, ref.version)  # type: ignore[arg-type]
    path = registry.path_of(art)
    info: dict[str, Any] = {
        "name": art.name,
        "version": art.version,
        "sha256": art.sha256,
        "source": "registry",
        "path": art.original_name,
    }
    if art.metadata:
        info["metadata"] = dict(art.metadata)
    return path, info


def _model_decisions(
    model: LoadedModel, X: pd.DataFrame, positive_label: object
) -> tuple[np.ndarray, np.ndarray | None]:
    est = model.estimator
    classes = getattr(est, "classes_", None)
    if classes is not None:
        pos = is_positive(pd.Series(classes), positive_label)
        if not pos.any():
            raise InputError(
                f"positive_label {positive_label!r} is not one of the model's classes "
                f"({', '.join(map(repr, map(str, classes)))})",
                hint="set positive_label to the model's class for the favourable outcome",
            )
    try:
        y_pred = is_positive(pd.Series(est.predict(X)), positive_label)
        scores = None
        if classes is not None and hasattr(est, "predict_proba"):
            proba = est.predict_proba(X)
            scores = proba[:, int(np.flatnonzero(pos)[0])]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"the model could not score the dataset: {exc}",
            hint="check that the dataset's columns and types match what the model was trained on",
        ) from None
    return y_pred, scores


def run_audit(
    resolved: ResolvedSpec,
    *,
    actor: Actor,
    registry: Registry | None = None,
    policy: Policy | None = None,
    today: date | None = None,
) -> AuditResult:
    """Run the audit ``resolved`` describes; raise AuditError subclasses on bad input."""
    from .explain import ExplanationUnavailable, explain_model
    from .fairness import compute_fairness, compute_performance

    spec = resolved.spec
    st = _Stages()
    with st.stage("policy"):
        policy = policy or load_policy(resolved.policy)

    model: LoadedModel | None = None
    model_info: dict[str, Any] | None = None
    with st.stage("load model"):
        if resolved.model is not None:
            path, model_info = _resolve_file(resolved.model, "model", registry)
            model = load_model(path, model_info["sha256"])
            model_info["format"] = model.format
            model_info["estimator"] = model.description
            if model_info["source"] == "path":
                model_info["name"] = resolved.model.path.stem  # type: ignore[union-attr]

    with st.stage("load dataset"):
        data_path, data_info = _resolve_file(resolved.dataset, "dataset", registry)
        features = model.feature_names if model else None
        wanted = [spec.label, *spec.sensitive_features]
        wanted += [c for c in (spec.predictions, spec.scores) if c]
        wanted += features or []
        frame = read_table(data_path, columns=list(dict.fromkeys(wanted)) if features else None)
        extra = [("predictions", spec.predictions)] if spec.predictions else []
        extra += [("scores", spec.scores)] if spec.scores else []
        source = resolved.dataset.display()
        check_columns(
            frame,
            source,
            label=spec.label,
            positive_label=spec.positive_label,
            sensitive=spec.sensitive_features,
            extra=extra,
            model_features=features,
        )
        data_info.update(
            rows=int(len(frame)),
            label=spec.label,
            positive_label=spec.positive_label,
            sensitive_features=list(spec.sensitive_features),
            decisions="model" if model else "recorded",
        )

    with st.stage("predict"):
        y_true = is_positive(frame[spec.label], spec.positive_label)
        scores: np.ndarray | None = None
        if model is not None:
            X = frame[features] if features else frame.drop(columns=[spec.label])
            y_pred, scores = _model_decisions(model, X, spec.positive_label)
        else:
            if spec.scores:
                scores = pd.to_numeric(frame[spec.scores], errors="coerce").to_numpy(float)
                if np.isnan(scores).any():
                    raise InputError(
                        f"scores column {spec.scores!r} of {source} has non-numeric or missing values",
                        hint="scores must be numbers in every row",
                    )
            if spec.predictions:
                y_pred = is_positive(frame[spec.predictions], spec.positive_label)
            else:
                assert scores is not None
                if spec.score_threshold == "median":
                    y_pred = scores > np.median(scores)
                else:
                    y_pred = scores >= float(spec.score_threshold)

    with st.stage("fairness"):
        fairness = compute_fairness(y_true, y_pred, frame[list(spec.sensitive_features)]).to_dict()
        performance = compute_performance(y_true, y_pred, scores).to_dict()
        used = [c for c in (features or []) if c in frame.columns]
        profile = data_profile(frame, y_true, spec.sensitive_features, used)

    with st.stage("explanations"):
        if model is None:
            explanations: dict[str, Any] = {
                "status": "skipped",
                "reason": "the audit judges recorded decisions; there is no model to explain",
            }
        else:
            try:
                explanations = explain_model(
                    model.estimator,
                    X,
                    positive_label=spec.positive_label,
                    # a sensitive feature the model does not take as input has no attribution
                    sensitive_features=[s for s in spec.sensitive_features if s in X.columns],
                    sample_size=spec.explain.sample_size,
                    background_size=spec.explain.background_size,
                    seed=spec.seed,
                ).to_dict()
            except ExplanationUnavailable as exc:
                explanations = {"status": "skipped", "reason": exc.reason}

    with st.stage("policy evaluation"):
        evidence = Evidence(
            fairness=fairness,
            performance=performance,
            explanations=explanations,
            data=profile,
            model_metadata=(model_info or {}).get("metadata"),
            model_registered=bool(model_info and model_info["source"] == "registry"),
        )
        findings = evaluate(policy, evidence, today or date.today())

    name = spec.name or (model_info["name"] if model_info else resolved.dataset.name or "audit")
    doc = policy.document
    subject: dict[str, Any] = {
        "name": name,
        "model": model_info,
        "dataset": data_info,
        "policy": {
            "name": doc.name,
            "version": doc.version,
            "sha256": policy.sha256,
            "path": policy.path.name,
            "description": doc.description,
            "references": list(doc.references),
            "not_covered": list(doc.not_covered),
            "checklist": [item.model_dump() for item in policy.checklist],
            "sources": [p.name for p, _ in policy.sources],
        },
    }
    settings = {
        "seed": spec.seed,
        "explain_sample_size": spec.explain.sample_size,
        "explain_background_size": spec.explain.background_size,
        "min_group_size": policy.min_group_size,
        "score_threshold": spec.score_threshold if model is None and not spec.predictions else None,
    }
    return AuditResult(
        name=name,
        subject=subject,
        outcome=outcome(findings),
        findings=findings,
        fairness=fairness,
        performance=performance,
        explanations=explanations,
        data=profile,
        settings=settings,
        environment=environment(),
        actor=actor,
        timings=st.timings,
    )
