"""The fairness section: per feature (or intersection ``a&b``) and group, from the catalogue.

The group model's metric fields are generated from :mod:`audit.contract.metrics`, so a metric
added to the catalogue is a field of every group (and of the JSON Schema) without further edits.
Read a metric by its report name with :meth:`GroupFairness.metric` (``"for"`` included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model

from .base import Interval, Num, Section
from .metrics import GROUP_METRICS


class ProportionTest(Section):
    """A two-sample test of one rate against the reference group's."""

    vs: str
    method: str
    statistic: float | None
    p_value: float | None


class Comparison(Section):
    """A group against the reference group: difference m - m(ref) and ratio m / m(ref)."""

    difference: float | None
    ratio: float | None
    ci_difference: Interval | None
    ci_ratio: Interval | None
    #: how each interval was computed (e.g. ``newcombe``, ``koopman``)
    method_difference: str | None = None
    method_ratio: str | None = None


class CalibrationBin(Section):
    bin_low: float
    bin_high: float
    n: int
    mean_score: float | None
    observed_rate: float | None


#: JSON key order of a group's metric fields, as reports have always written them; metrics
#: added to the catalogue later follow in catalogue order.
_PLAIN_ORDER = (
    "selection_rate",
    "base_rate",
    "tpr",
    "fpr",
    "fnr",
    "ppv",
    "accuracy",
    "impact_ratio",
    "share",
    "tnr",
    "npv",
    "fdr",
    "for",
)
_SCORED_ORDER = ("scoring_rate", "scoring_impact_ratio", "mean_score", "auc", "ece")
#: Always present in a group's entry (the rest only where the audit computes them).
_REQUIRED = ("selection_rate", "tpr", "fpr", "fnr", "ppv", "impact_ratio")


def field_name(metric: str) -> str:
    """The Python attribute of a metric (``for`` is a keyword: ``for_``)."""
    return metric + "_" if metric in ("for",) else metric


class _GroupBase(Section):
    """Counts, rates, intervals and tests of one group; formulas in the metric catalogue.

    With ``status == "insufficient_data"`` every rate, interval and test is None.
    """

    if TYPE_CHECKING:  # the fields are generated below, in report order
        n: int
        selected: int | None
        tp: int | None
        fp: int | None
        fn: int | None
        tn: int | None
        status: Literal["ok", "insufficient_data"]
        excluded: str | None
        calibration: list[CalibrationBin] | None
        ci: dict[str, Interval | None]
        ci_method: dict[str, str]
        tests: dict[str, ProportionTest | None]
        vs_reference: dict[str, Comparison]

    def metric(self, name: str) -> float | None:
        """A catalogued metric by its report name; None if undefined or not computed."""
        value = getattr(self, field_name(name), None)
        return None if value is None else float(value)


def _group_fields() -> dict[str, Any]:
    names = [m.name for m in GROUP_METRICS]
    plain = [n for n in _PLAIN_ORDER if n in names]
    plain += [m.name for m in GROUP_METRICS if not m.scored_only and m.name not in plain]
    scored = [n for n in _SCORED_ORDER if n in names]
    scored += [m.name for m in GROUP_METRICS if m.scored_only and m.name not in scored]

    def metric_field(name: str) -> tuple[Any, Any]:
        default = ... if name in _REQUIRED else None
        alias = name if field_name(name) != name else None
        return (float | None, Field(default, alias=alias))

    fields: dict[str, Any] = {"n": (int, Field(..., ge=0))}
    # the confusion cells need the true label: None in an audit without one
    fields.update({c: (int | None, Field(..., ge=0)) for c in ("tp", "fp", "fn", "tn")})
    fields["selected"] = (int | None, Field(None, ge=0))
    fields.update({field_name(n): metric_field(n) for n in plain})
    fields["status"] = (Literal["ok", "insufficient_data"], "ok")
    fields["excluded"] = (str | None, None)
    fields.update({field_name(n): metric_field(n) for n in scored})
    fields["calibration"] = (list[CalibrationBin] | None, None)
    fields["ci"] = (dict[str, Interval | None], Field(default_factory=dict))
    fields["ci_method"] = (dict[str, str], Field(default_factory=dict))
    fields["tests"] = (dict[str, ProportionTest | None], Field(default_factory=dict))
    fields["vs_reference"] = (dict[str, Comparison], Field(default_factory=dict))
    # calibration sits among the score statistics, after ece
    order = list(fields)
    order.remove("calibration")
    order.insert(order.index("ci"), "calibration")
    return {k: fields[k] for k in order}


if TYPE_CHECKING:
    GroupFairness = _GroupBase
else:
    GroupFairness = create_model(
        "GroupFairness", __base__=_GroupBase, __module__=__name__, **_group_fields()
    )


class Disparity(Section):
    """Between-group spread of one metric: max - min and min / max, and the groups giving it."""

    difference: float | None
    ratio: float | None = None
    worst_pair: list[str] | None = None  # (lowest, highest)
    ci_difference: Interval | None = None
    ci_ratio: Interval | None = None
    ci: Interval | None = None  # equalized odds: one interval of the difference
    method: str | None = None  # how the intervals were computed


class ReferenceChoice(Section):
    rule: Literal["most_favoured", "largest", "named"]
    group: str | None
    scoring_group: str | None = None


class FeatureFairness(Section):
    """Per-group metrics and between-group disparities of one feature or intersection."""

    reference_group: str | None
    unknown: int = Field(ge=0)
    groups: dict[str, GroupFairness]
    demographic_parity_difference: float | None = None
    demographic_parity_ratio: float | None = None
    equalized_odds_difference: float | None = None
    equal_opportunity_difference: float | None = None
    predictive_parity_difference: float | None = None
    n: int | None = None
    reference: ReferenceChoice | None = None
    excluded_groups: list[str] = Field(default_factory=list)
    exclude_below_share: Num | None = None
    min_group_size: int | None = None
    confidence: Num | None = None
    n_bootstrap: int | None = None
    seed: int | None = None
    disparities: dict[str, Disparity] = Field(default_factory=dict)
    #: False when the audit has no true label: every metric that needs one is None
    labelled: bool | None = None

    def summary(self, name: str) -> float | None:
        """A between-group summary (``demographic_parity_difference`` ...) by name."""
        value = getattr(self, name, None)
        return None if value is None else float(value)
