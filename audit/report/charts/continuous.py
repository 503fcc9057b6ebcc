"""The regression section's chart: mean prediction by group, with the four-fifths line.

mean prediction = Σŷ / n over the group's rows, with its t interval as a whisker. The dashed line
sits at 0.8 × the reference group's mean prediction (the four-fifths rule carried over to a
continuous outcome, as policies/regression-baseline.yaml judges it): a compared group whose bar
ends left of it (``favourable: higher``) has a mean-prediction ratio under 0.8 and is drawn in the
accent colour with a \u25bc after its value. With ``favourable: lower`` no group is flagged by
the line (a lower prediction favours the person) and the legend says so.
"""

from __future__ import annotations

from markupsafe import Markup

from audit.contract.regression import RegressionFeature

from .svg import _FOUR_FIFTHS, _MAX_BARS, Bar, ReferenceLine, horizontal_bar_chart


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def mean_prediction_chart(
    feature: str, evidence: RegressionFeature, favourable: str = "higher"
) -> Markup:
    """Mean prediction by group of ``feature`` (at most _MAX_BARS groups: the largest ones)."""
    groups = dict(evidence.groups)
    if len(groups) > _MAX_BARS:
        keep = sorted(groups, key=lambda g: -groups[g].n)[:_MAX_BARS]
        groups = {g: groups[g] for g in evidence.groups if g in keep}
    reference = evidence.reference_group
    ref = evidence.groups.get(reference) if reference else None
    ref_mean = None if ref is None else ref.mean_prediction
    line_value = _FOUR_FIFTHS * ref_mean if ref_mean is not None and ref_mean > 0 else None
    bars = []
    for name, g in groups.items():
        compared = not g.excluded and g.status == "ok"
        low = (
            favourable == "higher"
            and compared
            and line_value is not None
            and g.mean_prediction is not None
            and g.mean_prediction < line_value
        )
        ci = g.ci.get("mean_prediction")
        bars.append(
            Bar(
                label=str(name),
                value=g.mean_prediction,
                emphasis=low,
                note="(reference)" if name == reference else "",
                interval=(ci[0], ci[1]) if ci else None,
            )
        )
    line = (
        ReferenceLine(line_value, f"0.8 \u00d7 reference mean = {_amount(line_value)}")
        if line_value is not None
        else None
    )
    shown = len(groups) < len(evidence.groups)
    return horizontal_bar_chart(
        bars,
        title=f"Mean prediction by group: {feature}",
        description=(
            f"Horizontal bars give the mean prediction of each {feature} group with its "
            "confidence interval as a whisker"
            + (
                f"; the dashed line marks 0.8 times the reference group {reference}'s mean "
                f"({_amount(line_value)})."
                if line_value is not None
                else "."
            )
        ),
        axis_label="mean prediction = Σŷ / n",
        value_format=_amount,
        reference_line=line,
        footnote=f"Showing the {len(groups)} largest of {len(evidence.groups)} groups."
        if shown
        else "",
        emphasis_legend="below the dashed line (mean-prediction ratio under 0.8)",
    )
