"""The metric catalogue: every per-group fairness metric, defined once.

Each :class:`GroupMetric` names a quantity reported for every group of a sensitive feature (a
key of ``report.json`` ``fairness.<feature>.groups.<group>``) and says how it is computed, which
way is better, what it needs and how people read it. Everything else derives from this list: the
fields of the typed report's group model and its JSON Schema, the metrics a policy's fairness
rule may name, the quantities ``audit report diff`` compares, the rows of the HTML/PDF tables, and
the metric table in ``docs/architecture.md``.

Counts per group are the confusion cells ``tn, fp, fn, tp`` (``n`` their sum). A metric with
``cells`` is the fraction ``sum(numerator cells) / sum(denominator cells)`` (denominator ``None``
means all four cells, i.e. ``n``); the fairness engine computes it, its bootstrap interval and a
two-sample test against the reference group from the counts alone, so adding such a metric means
adding one entry here. ``ratio_of`` metrics are a group's value of another metric divided by the
reference group's; ``source = "scores"`` metrics come from the score statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TN, FP, FN, TP = 0, 1, 2, 3

Direction = Literal["higher", "lower", "neither"]
Needs = Literal["decisions", "labels", "scores"]
#: The HTML/PDF table a metric is a column of: the fairness evidence table ("groups"), the
#: scoring table, the appendix, or none ("": shown another way, e.g. a group's share).
Table = Literal["groups", "scoring", "appendix", ""]


@dataclass(frozen=True)
class GroupMetric:
    """One per-group metric: its report key, formula, direction and what it needs."""

    name: str
    label: str
    formula: str
    direction: Direction  # which way is better for the people in the group
    needs: Needs  # decisions only, true labels too, or model scores
    #: (numerator cells, denominator cells or None for n): a fraction of confusion counts
    cells: tuple[tuple[int, ...], tuple[int, ...] | None] | None = None
    #: the metric divided by the reference group's value of ``ratio_of``
    ratio_of: str | None = None
    #: compared between groups (max - min, min / max) and against the reference group
    compared: bool = False
    #: a rule may judge it (``metric:`` of a fairness rule)
    judged: bool = True
    #: written to the report only when the audit has scores
    scored_only: bool = False
    #: display: a short column header where the label is too long (``"TPR"``); "" uses the label
    column: str = ""
    #: display: the HTML/PDF table the metric is a column of (a new metric: the appendix)
    table: Table = "appendix"

    @property
    def higher_is_better(self) -> bool | None:
        return {"higher": True, "lower": False, "neither": None}[self.direction]

    @property
    def short(self) -> str:
        """The name in running text and chart titles: the short column, else the label."""
        return self.column or self.label

    @property
    def header(self) -> str:
        """The column header in tables: ``"TPR"``, ``"Selection rate"``."""
        return self.column or self.label[:1].upper() + self.label[1:]


#: The catalogue, in the order policies and tables list the metrics.
GROUP_METRICS: tuple[GroupMetric, ...] = (
    GroupMetric(
        "selection_rate",
        "selection rate",
        "(tp + fp) / n",
        "neither",  # parity is judged on the ratio; a higher rate is not better in itself
        "decisions",
        cells=((TP, FP), None),
        compared=True,
        table="groups",
    ),
    GroupMetric(
        "impact_ratio",
        "impact ratio",
        "selection_rate / selection_rate(reference group)",
        "higher",
        "decisions",
        ratio_of="selection_rate",
        table="groups",
    ),
    GroupMetric(
        "scoring_rate",
        "scoring rate",
        "rows scoring above the full sample's median score / n",
        "neither",
        "scores",
        compared=True,
        scored_only=True,
        table="scoring",
    ),
    GroupMetric(
        "scoring_impact_ratio",
        "scoring impact ratio",
        "scoring_rate / scoring_rate(scoring reference group)",
        "higher",
        "scores",
        ratio_of="scoring_rate",
        scored_only=True,
        table="scoring",
    ),
    GroupMetric(
        "tpr",
        "true positive rate",
        "tp / (tp + fn)",
        "higher",
        "labels",
        cells=((TP,), (TP, FN)),
        compared=True,
        column="TPR",
        table="groups",
    ),
    GroupMetric(
        "fpr",
        "false positive rate",
        "fp / (fp + tn)",
        "lower",
        "labels",
        cells=((FP,), (FP, TN)),
        compared=True,
        column="FPR",
        table="groups",
    ),
    GroupMetric(
        "tnr",
        "true negative rate",
        "tn / (tn + fp)",
        "higher",
        "labels",
        cells=((TN,), (TN, FP)),
        column="TNR",
    ),
    GroupMetric(
        "fnr",
        "false negative rate",
        "fn / (fn + tp)",
        "lower",
        "labels",
        cells=((FN,), (FN, TP)),
        compared=True,
        column="FNR",
    ),
    GroupMetric(
        "ppv",
        "precision (PPV)",
        "tp / (tp + fp)",
        "higher",
        "labels",
        cells=((TP,), (TP, FP)),
        compared=True,
        column="PPV",
        table="groups",
    ),
    GroupMetric(
        "npv",
        "negative predictive value",
        "tn / (tn + fn)",
        "higher",
        "labels",
        cells=((TN,), (TN, FN)),
        compared=True,
        column="NPV",
    ),
    GroupMetric(
        "fdr",
        "false discovery rate",
        "fp / (fp + tp)",
        "lower",
        "labels",
        cells=((FP,), (FP, TP)),
        column="FDR",
    ),
    GroupMetric(
        "for",
        "false omission rate",
        "fn / (fn + tn)",
        "lower",
        "labels",
        cells=((FN,), (FN, TN)),
        column="FOR",
    ),
    GroupMetric(
        "base_rate",
        "base rate",
        "(tp + fn) / n",
        "neither",
        "labels",
        cells=((TP, FN), None),
    ),
    GroupMetric(
        "accuracy",
        "accuracy",
        "(tp + tn) / n",
        "higher",
        "labels",
        cells=((TP, TN), None),
        compared=True,
    ),
    GroupMetric(
        "auc",
        "ROC AUC",
        "P(score of a positive > score of a negative), ties 1/2",
        "higher",
        "scores",
        scored_only=True,
        column="AUC",
        table="scoring",
    ),
    GroupMetric(
        "ece",
        "expected calibration error",
        "sum over 10 score bins of n_bin / n * |mean score - observed rate|",
        "lower",
        "scores",
        scored_only=True,
        column="ECE",
        table="scoring",
    ),
    GroupMetric(
        "share",
        "share of rows",
        "n / rows with a known group",
        "neither",
        "decisions",
        judged=False,
        table="",
    ),
    GroupMetric(
        "mean_score",
        "mean score",
        "mean of the group's scores",
        "neither",
        "scores",
        judged=False,
        scored_only=True,
        table="scoring",
    ),
)

CATALOGUE: dict[str, GroupMetric] = {m.name: m for m in GROUP_METRICS}

#: Fractions of confusion counts, in the order the engine reports intervals and tests.
RATE_ORDER = (
    "base_rate",
    "selection_rate",
    "tpr",
    "fpr",
    "tnr",
    "fnr",
    "ppv",
    "npv",
    "fdr",
    "for",
    "accuracy",
)


def rates() -> tuple[GroupMetric, ...]:
    """The metrics that are fractions of confusion counts (known order first, then additions)."""
    known = [CATALOGUE[n] for n in RATE_ORDER if n in CATALOGUE]
    extra = [m for m in GROUP_METRICS if m.cells is not None and m.name not in RATE_ORDER]
    return tuple(known + extra)


def judged_metrics() -> tuple[str, ...]:
    """Names a fairness rule's ``metric:`` may take among the per-group metrics."""
    return tuple(m.name for m in GROUP_METRICS if m.judged)


def compared_metrics(scored: bool) -> tuple[str, ...]:
    """Rates compared between groups and against the reference (scoring rate when scored)."""
    plain = [m.name for m in GROUP_METRICS if m.compared and not m.scored_only]
    scoring = [m.name for m in GROUP_METRICS if m.compared and m.scored_only]
    return tuple(plain + (scoring if scored else []))


def label(name: str) -> str:
    """The display label of a metric (the name itself if it is not catalogued)."""
    metric = CATALOGUE.get(name)
    return metric.label if metric else name.replace("_", " ")


#: Every metric name (per group, between groups, overall performance, data profile) that compares
#: decisions or scores with the true outcome, so an audit with no label (decisions or scores
#: alone) cannot assess it: the catalogue's ``needs == "labels"`` metrics, AUC and ECE (scores
#: against outcomes), the error-rate parities, every overall performance metric but the selection
#: rate, and the label balance.
LABEL_METRICS = frozenset(
    {m.name for m in GROUP_METRICS if m.needs == "labels"}
    | {"auc", "ece"}
    | {"equalized_odds_difference", "equal_opportunity_difference", "predictive_parity_difference"}
    | {"accuracy", "precision", "recall", "f1", "roc_auc", "base_rate"}
    | {"label_balance"}
)


def needs_label(name: str) -> bool:
    """Whether the metric ``name`` compares with the true outcome (see :data:`LABEL_METRICS`)."""
    return name in LABEL_METRICS
