"""model-card.md: a model card in the Hugging Face layout, rendered from the report alone.

The YAML front matter carries the Hub's metadata (``library_name``, ``tags``, ``datasets``,
``metrics`` and a ``model-index`` with the overall results on the audited dataset); the body
follows the sections of the Hub's model card template (Model Details, Uses, Bias, Risks, and
Limitations, Training Details, Evaluation, Model Card Authors). Facts the audit cannot know
(training data, out-of-scope uses) come from the model's registry metadata or are marked
"not stated" with the command that records them: a card never invents them.

Text from the report is escaped as in summary.md (:func:`.markdown.cell`), and the front
matter is written by PyYAML, so neither a label nor a message can break the document.
"""

from __future__ import annotations

from typing import Any, ClassVar

import yaml

from audit.contract import Finding, Report

from .interface import OutputFormat, fmt_number, reference, rule_location
from .markdown import cell, code

#: overall metrics in the model-index, with their display names
_OVERALL = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "selection_rate": "Selection rate",
}
#: per-group columns of the results table (metric, header)
_GROUP_COLUMNS = (
    ("selection_rate", "Selection rate"),
    ("impact_ratio", "Impact ratio"),
    ("tpr", "TPR"),
    ("fpr", "FPR"),
    ("ppv", "PPV"),
)
_LIBRARIES = {
    "skops": "sklearn",
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
}
_NOT_STATED = "Not stated in the model's registry metadata (record it with `audit registry add-model --{flag}`)."


class ModelCardFormat(OutputFormat):
    """model-card.md (see the module docstring)."""

    name: ClassVar[str] = "model-card"
    filename: ClassVar[str] = "model-card.md"

    def text(self, report: Report, *, bundle_path: str | None = None) -> str:
        parts = [_front_matter(report), *_body(report, bundle_path)]
        return "\n".join(parts).rstrip("\n") + "\n"


def _task(report: Report) -> str:
    return "tabular-regression" if report.task == "regression" else "tabular-classification"


#: overall statistics of a regression audit, with their display names
_REGRESSION_OVERALL = {
    "mae": "MAE",
    "rmse": "RMSE",
    "r2": "R²",
    "mean_prediction": "Mean prediction",
}
#: per-group columns of a regression audit's results tables
_REGRESSION_COLUMNS = (
    ("mean_prediction", "Mean prediction"),
    ("mean_prediction_ratio", "Ratio to reference"),
    ("mean_outcome", "Mean outcome"),
    ("mae", "MAE"),
)


def _overall(report: Report) -> list[tuple[str, str, float]]:
    """(key, label, value) of the overall results: the regression statistics, else the
    performance section's metrics."""
    if report.regression is not None:
        o = report.regression.overall
        found = [(k, label, getattr(o, k, None)) for k, label in _REGRESSION_OVERALL.items()]
    else:
        found = [(k, label, report.performance.metric(k)) for k, label in _OVERALL.items()]
    return [(k, label, float(v)) for k, label, v in found if v is not None]


def _front_matter(report: Report) -> str:
    subject = report.subject
    metrics = [
        {"type": key, "value": value, "name": label} for key, label, value in _overall(report)
    ]
    meta: dict[str, Any] = {}
    fmt = (subject.model.format or "") if subject.model else ""
    library = next((lib for key, lib in _LIBRARIES.items() if fmt.startswith(key)), None)
    if library:
        meta["library_name"] = library
    meta["tags"] = [_task(report), "fairness", "audit"]
    meta["datasets"] = [subject.dataset.name]
    if metrics:
        meta["metrics"] = [m["type"] for m in metrics]
    meta["model-index"] = [
        {
            "name": subject.name,
            "results": [
                {
                    "task": {"type": _task(report)},
                    "dataset": {
                        "name": subject.dataset.name,
                        "type": subject.dataset.name,
                        "split": "audit",
                        **(
                            {"revision": str(subject.dataset.version)}
                            if subject.dataset.version
                            else {}
                        ),
                    },
                    "metrics": metrics,
                }
            ],
        }
    ]
    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{text}---\n"


def _body(report: Report, bundle_path: str | None) -> list[str]:
    subject = report.subject
    model = subject.model
    meta = (model.metadata if model else None) or {}
    out = [f"# Model Card for {cell(subject.name)}", ""]
    out.append(
        f"Audited by audit {cell(report.tool.version)} on {cell(report.created_at)} "
        f"(report version {report.version}): **{report.outcome.upper()}** against the policy "
        f"{code(reference(subject.policy))}."
    )
    out += ["", "## Model Details", "", "### Model Description", ""]
    if model is None:
        out.append("- **Model:** none: the audit judged decisions recorded in the dataset.")
    else:
        out.append(
            f"- **Developed by:** {cell(meta['owner']) if meta.get('owner') else 'not stated'}"
        )
        out.append(f"- **Model type:** {cell(model.estimator or 'unknown')}")
        out.append(
            f"- **Model:** {code(reference(model))}, {cell(model.format or 'unknown format')}"
        )
        out.append(f"- **sha256:** {code(model.sha256)}")
    out += ["", "## Uses", "", "### Direct Use", ""]
    out.append(
        cell(meta["intended_use"])
        if meta.get("intended_use")
        else _NOT_STATED.format(flag="intended-use")
    )
    out += ["", "### Out-of-Scope Use", "", "Not stated: the audit cannot know it."]
    out += ["", "## Bias, Risks, and Limitations", ""]
    out.append(
        cell(meta["limitations"])
        if meta.get("limitations")
        else _NOT_STATED.format(flag="limitations")
    )
    concerns = [f for f in report.rules if f.status in ("fail", "warn", "waived")]
    if concerns:
        out += ["", "The audit found:", ""]
        out += [f"- {_finding(f)}" for f in concerns]
    out += ["", "### Recommendations", ""]
    if concerns:
        out.append(
            "Resolve or formally waive each finding above before deployment; the audit "
            "report's fairness section shows where the gaps are."
        )
    else:
        out.append("No rule of the policy failed or warned; re-audit each new model version.")
    out += ["", "## Training Details", "", "### Training Data", ""]
    out.append(
        cell(meta["training_data"])
        if meta.get("training_data")
        else _NOT_STATED.format(flag="training-data")
    )
    out += _evaluation(report)
    out += ["", "## Model Card Authors", ""]
    where = f" (bundle {code(bundle_path)})" if bundle_path else ""
    out.append(
        f"Generated by audit from report {code(report.report_id)}{where}; report.json, this "
        "card and every other bundle file are covered by the bundle's signed attestation."
    )
    return out


def _regression_tables(report: Report) -> list[str]:
    reg = report.regression
    assert reg is not None
    out: list[str] = []
    for feature, f in reg.features.items():
        ref = f", reference group {cell(f.reference_group)}" if f.reference_group else ""
        out += ["", f"#### By {cell(feature)}{ref}", ""]
        out += ["| Group | n | " + " | ".join(h for _, h in _REGRESSION_COLUMNS) + " |"]
        out += ["| --- | ---: |" + " ---: |" * len(_REGRESSION_COLUMNS)]
        for group, g in f.groups.items():
            values = []
            for name, _ in _REGRESSION_COLUMNS:
                value, ci = getattr(g, name, None), g.ci.get(name)
                text = fmt_number(value, 4)
                if value is not None and ci is not None:
                    text += f" [{fmt_number(ci[0], 4)}, {fmt_number(ci[1], 4)}]"
                values.append(text)
            out.append(f"| {cell(group)} | {g.n} | " + " | ".join(values) + " |")
    return out


def _finding(f: Finding) -> str:
    where = rule_location(f)
    at = f" ({cell(where)})" if where else ""
    return f"**{cell(f.status)}** {code(f.id)}{at}: {cell(f.message)}"


def _evaluation(report: Report) -> list[str]:
    subject = report.subject
    data = subject.dataset
    out = [
        "",
        "## Evaluation",
        "",
        "### Testing Data, Factors & Metrics",
        "",
        "#### Testing Data",
        "",
    ]
    out.append(
        f"{code(reference(data))}: {data.rows} rows, sha256 {code(data.sha256)}"
        + (f". {cell(data.description)}" if data.description else ".")
    )
    out += ["", "#### Factors", ""]
    out.append("Sensitive features: " + ", ".join(code(f) for f in data.sensitive_features) + ".")
    out += ["", "#### Metrics", ""]
    judged = sorted({f.metric for f in report.rules})
    out.append(
        "The policy's rules judge: " + (", ".join(code(m) for m in judged) or "nothing") + "."
    )
    out += ["", "### Results", ""]
    overall = [(label, v) for _, label, v in _overall(report)]
    if overall:
        out += ["| Metric | Value |", "| --- | ---: |"]
        out += [f"| {label} | {fmt_number(v)} |" for label, v in overall]
    if report.regression is not None:
        out += _regression_tables(report)
    if report.multiclass is not None:
        out += [
            "",
            "Per-class results (each class against the rest, per group): the report's "
            "Multiclass section; classes: "
            + ", ".join(code(c) for c in report.multiclass.classes)
            + ".",
        ]
    for feature, ff in report.fairness.items():
        ref = f", reference group {cell(ff.reference_group)}" if ff.reference_group else ""
        out += ["", f"#### By {cell(feature)}{ref}", ""]
        header = "| Group | n | " + " | ".join(h for _, h in _GROUP_COLUMNS) + " |"
        out += [header, "| --- | ---: |" + " ---: |" * len(_GROUP_COLUMNS)]
        for group, g in ff.groups.items():
            values = []
            for metric, _ in _GROUP_COLUMNS:
                value, ci = g.metric(metric), g.ci.get(metric)
                text = fmt_number(value, 3)
                if value is not None and ci is not None:
                    text += f" [{fmt_number(ci[0], 3)}, {fmt_number(ci[1], 3)}]"
                values.append(text)
            out.append(f"| {cell(group)} | {g.n} | " + " | ".join(values) + " |")
    out += ["", "#### Summary", ""]
    s = report.summary
    out.append(
        f"{report.outcome.upper()}: of {s.rules} rules, {s.passed} passed, {s.failed} failed, "
        f"{s.warned} warned, {s.waived} waived and {s.skipped} could not be judged."
    )
    return out
