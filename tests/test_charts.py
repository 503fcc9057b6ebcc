"""Colour is never the only signal: whatever a chart tells apart by colour, it also tells apart
by text or shape, and says so in its legend and ``<desc>``.

Each test reads the SVG with the stdlib XML parser and finds the non-colour signal without
looking at any fill colour, so it fails if that signal is removed (leaving only the colour).
The expected answer (which bar is below four-fifths, which dots are below the median, which
step is adverse) is computed here from the input data, not taken from the chart.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pandas as pd
import pytest

from audit.contract import (
    Contribution,
    DecisionExample,
    Distribution,
    FeatureFairness,
    GroupFairness,
    GroupImportance,
    Importance,
)
from audit.explain.explanation import Explanation
from audit.report.charts import (
    beeswarm_chart,
    group_importance_chart,
    importance_chart,
    importance_interval_chart,
    rate_chart,
    selection_rate_chart,
    waterfall_chart,
)

FLAG = "\u25bc"


# -- the typed sections the charts read, from the partial entries the tests build ---------------
# model_construct: only the fields a chart reads are given (the tests vary exactly those).


def fairness(ev: dict[str, Any]) -> FeatureFairness:
    groups = {g: GroupFairness.model_construct(**stats) for g, stats in ev["groups"].items()}
    return FeatureFairness.model_construct(reference_group=ev["reference_group"], groups=groups)


def importance(rows: list[dict[str, Any]]) -> list[Importance]:
    return [Importance.model_construct(**r) for r in rows]


def by_group(groups: dict[str, dict[str, Any]]) -> dict[str, GroupImportance]:
    return {
        g: GroupImportance.model_construct(
            n=v["n"], small=v["small"], global_=importance(v["global"])
        )
        for g, v in groups.items()
    }


def distributions(rows: list[dict[str, Any]]) -> list[Distribution]:
    return [Distribution.model_construct(**d) for d in rows]


def decision(example: dict[str, Any]) -> DecisionExample:
    steps = [Contribution.model_construct(**c) for c in example["contributions"]]
    return DecisionExample.model_construct(**{**example, "contributions": steps})


def svg(markup: str) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == "svg"
    return root


def texts(root: ET.Element, cls: str) -> list[ET.Element]:
    return [t for t in root.iter("text") if cls in (t.get("class") or "").split()]


def legend(root: ET.Element) -> str:
    return " ".join("".join(t.itertext()) for t in texts(root, "legend"))


def desc(root: ET.Element) -> str:
    node = root.find("desc")
    assert node is not None and node.text
    return node.text


def assert_accessible(root: ET.Element) -> None:
    """role="img", labelled by its <title>, and a <desc>."""
    assert root.get("role") == "img"
    title = root.find("title")
    assert title is not None and title.text and title.get("id") == root.get("aria-labelledby")
    assert desc(root)


def row_text(root: ET.Element, cls: str, top: float, bottom: float) -> str:
    """The one text of class ``cls`` whose baseline lies in [top, bottom] (a bar's row)."""
    found = [t for t in texts(root, cls) if top <= float(t.get("y") or 0) <= bottom]
    assert len(found) == 1, [("".join(t.itertext()), t.get("y")) for t in found]
    return "".join(found[0].itertext())


def axis(root: ET.Element) -> tuple[float, float]:
    """(value at x = 0, value per unit of x) from two tick labels."""
    ticks = [(float(t.get("x") or 0), float("".join(t.itertext()))) for t in texts(root, "tick")]
    (xa, va), (xb, vb) = ticks[0], ticks[-1]
    per_unit = (vb - va) / (xb - xa)
    return va - xa * per_unit, per_unit


# -- selection rate: below the four-fifths line ------------------------------------------------


def evidence(
    rates: dict[str, float | None], excluded: frozenset[str] = frozenset()
) -> dict[str, Any]:
    return {
        "reference_group": "A",
        "groups": {
            g: {"selection_rate": r, "excluded": g in excluded, "ci": {}} for g, r in rates.items()
        },
    }


def test_bars_below_four_fifths_are_marked_in_text() -> None:
    rates = {"A": 0.50, "B": 0.30, "C": 0.45, "D": 0.20, "E": None, "F": 0.399}
    root = svg(selection_rate_chart("f", fairness(evidence(rates, excluded=frozenset({"D"})))))
    assert_accessible(root)
    line = 0.8 * 0.50  # four-fifths of the reference group A's rate
    flagged = {g for g, r in rates.items() if r is not None and r < line and g != "D"}
    assert flagged == {"B", "F"}  # D is below the line but excluded from comparisons
    bars = [b for b in root.iter("rect") if b.get("class") == "bar"]
    assert len(bars) == 5
    seen = {}
    for bar in bars:
        group = "".join(bar.itertext()).rsplit(":", 1)[0]
        y = float(bar.get("y") or 0)
        value = row_text(root, "value", y, y + float(bar.get("height") or 0))
        seen[group] = FLAG in value
        assert value.startswith(f"{rates[group]:.3f}")
    assert {g for g, marked in seen.items() if marked} == flagged
    assert f"{FLAG} below the dashed line" in legend(root)
    assert "triangle" in desc(root)
    # The reference group is named in text, in bold.
    labels = {"".join(t.itertext()): t for t in texts(root, "label")}
    assert labels["A (reference)"].get("font-weight") == "bold"


def test_no_flag_legend_when_nothing_is_below_the_line() -> None:
    root = svg(selection_rate_chart("f", fairness(evidence({"A": 0.5, "B": 0.45}))))
    assert FLAG not in "".join(root.itertext())


def test_long_bold_reference_label_stays_inside_the_chart() -> None:
    """A clipped intersection group marked "(reference)" is bold, hence wider: the label column
    makes room for it (it used to run off the left edge)."""
    long = "Male&Asian-Pac-Islander-and-more-words"
    rates: dict[str, float | None] = {long: 0.3, "x": 0.2}
    root = svg(
        selection_rate_chart(
            "f", fairness({"reference_group": long, "groups": evidence(rates)["groups"]})
        )
    )
    label = next(t for t in texts(root, "label") if t.get("font-weight") == "bold")
    width = len("".join(label.itertext())) * 11 * 0.62  # DejaVu Sans Bold: 0.61 em per char
    assert float(label.get("x") or 0) - width >= 0


# -- charts where colour encodes nothing -------------------------------------------------------


def test_single_colour_charts_use_one_bar_colour() -> None:
    """Rate charts and importance charts draw every bar in one colour, so colour cannot carry
    meaning there; the reference group is named in text."""
    ev = evidence({"A": 0.5, "B": 0.1, "C": 0.3})
    for group in ev["groups"].values():
        group["tpr"] = group["selection_rate"]
    rows = [
        {"feature": f"f{i}", "mean_abs_shap": 1.0 / (i + 1), "ci": [0.5 / (i + 1), 1.5 / (i + 1)]}
        for i in range(4)
    ]
    for markup in (
        rate_chart("f", fairness(ev), "tpr"),
        importance_chart(importance(rows)),
        importance_interval_chart(importance(rows)),
    ):
        root = svg(markup)
        assert_accessible(root)
        fills = {
            r.get("fill") for r in root.iter("rect") if r.get("class") in {"bar", "importance-bar"}
        }
        assert len(fills) == 1, fills
    root = svg(rate_chart("f", fairness(ev), "tpr"))
    assert "A (reference)" in ["".join(t.itertext()) for t in texts(root, "label")]


# -- importance by group -----------------------------------------------------------------------


def group_entry(n: int, means: dict[str, float], small: bool = False) -> dict[str, Any]:
    return {
        "n": n,
        "small": small,
        "global": [{"feature": f, "mean_abs_shap": v} for f, v in means.items()],
    }


FEATURES = ["age", "income", "hours"]


def bars_and_names(root: ET.Element) -> list[tuple[str, str, float, str]]:
    """(group from the tooltip, feature, value, text printed at the bar) for every group bar."""
    out = []
    for bar in root.iter("rect"):
        if bar.get("class") != "group-bar":
            continue
        head, value = "".join(bar.itertext()).rsplit(": ", 1)
        group, feature = head.rsplit(", ", 1)
        y = float(bar.get("y") or 0)
        printed = row_text(root, "value", y, y + float(bar.get("height") or 0) + 0.5)
        out.append((group, feature, float(value), printed))
    return out


def test_each_group_bar_names_its_group() -> None:
    groups = {
        "Female": group_entry(300, {"age": 0.4, "income": 0.2, "hours": 0.1}),
        "Male": group_entry(700, {"age": 0.3, "income": 0.25, "hours": 0.05}),
        "Non-binary": group_entry(50, {"age": 0.2, "income": 0.3, "hours": 0.15}),
        "Tiny": group_entry(3, {"age": 0.9, "income": 0.9, "hours": 0.9}, small=True),
    }
    root = svg(group_importance_chart("sex", by_group(groups), FEATURES))
    assert_accessible(root)
    found = bars_and_names(root)
    assert len(found) == 3 * len(FEATURES)
    for group, feature, value, printed in found:
        assert printed == f"{group} {value:.3f}"
        assert value == pytest.approx(
            groups[group]["global"][FEATURES.index(feature)]["mean_abs_shap"], abs=5e-4
        )
    assert "Tiny" not in {g for g, *_ in found}
    assert "Not drawn, listed in the table: 1 small group." in legend(root)
    assert "(Female, Male, Non-binary)" in desc(root)
    assert "printed after the group's name" in desc(root)
    for name in ("Female (n = 300)", "Male (n = 700)", "Non-binary (n = 50)"):
        assert name in legend(root)


def test_long_group_names_are_clipped_and_clashing_ones_numbered() -> None:
    means = dict.fromkeys(FEATURES, 0.2)
    distinct = {
        "Female & Asian-Pac-Islander": group_entry(100, means),
        "Male & White": group_entry(100, means),
    }
    found = bars_and_names(svg(group_importance_chart("x", by_group(distinct), FEATURES)))
    tags = {g: p.rsplit(" ", 1)[0] for g, _, _, p in found}
    assert tags["Male & White"] == "Male & White"
    clipped = tags["Female & Asian-Pac-Islander"]
    assert clipped == "Female \u2026Islander"  # both ends kept, the middle elided
    clash = {
        "Female & Asian-Pac-Islander": group_entry(100, means),
        "Female & Other-Pac-Islander": group_entry(100, means),
    }
    root = svg(group_importance_chart("x", by_group(clash), FEATURES))
    found = bars_and_names(root)
    tags = {g: p.rsplit(" ", 1)[0] for g, _, _, p in found}
    assert tags == {"Female & Asian-Pac-Islander": "G1", "Female & Other-Pac-Islander": "G2"}
    assert "G1: Female & Asian-Pac-Islander (n = 100)" in legend(root)
    assert "G2: Female & Other-Pac-Islander (n = 100)" in legend(root)


def test_more_than_six_groups_keeps_the_six_largest() -> None:
    means = dict.fromkeys(FEATURES, 0.2)
    sizes = [50, 400, 30, 300, 200, 20, 100, 150]
    groups = {f"g{i}": group_entry(n, means) for i, n in enumerate(sizes)}
    root = svg(group_importance_chart("x", by_group(groups), FEATURES))
    drawn = [g for g, f, _, _ in bars_and_names(root) if f == FEATURES[0]]
    assert drawn == ["g0", "g1", "g3", "g4", "g6", "g7"]  # the six largest, in report order
    assert "2 more beyond the 6 largest" in legend(root)


# -- beeswarm: feature value as colour and shape -----------------------------------------------


def explained(phi: np.ndarray, values: pd.DataFrame) -> Explanation:
    """An Explanation of ``values``' columns with SHAP values ``phi`` (one column each)."""
    n = len(values)
    return Explanation(
        method="shap",
        explainer="test",
        output_space="raw",
        positive_label=1,
        population_rows=n,
        seed=0,
        background_size=None,
        base_value=0.0,
        attributions=phi,
        feature_names=tuple(values.columns),
        row_index=pd.RangeIndex(n),
        row_positions=np.arange(n),
        model_output=phi.sum(axis=1),
        feature_values=values,
    )


def explanation(n: int = 400) -> tuple[Explanation, np.ndarray]:
    """A numeric column whose SHAP value rises with its value (so every bin but the median's is
    wholly below or wholly above the median) and a categorical column."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=n)
    kind = rng.choice(["a", "b", "c"], size=n)
    phi = np.column_stack([2 * x, rng.normal(scale=0.3, size=n)])
    return explained(phi, pd.DataFrame({"x": x, "kind": kind})), x


def test_beeswarm_dots_are_hollow_below_the_median_and_filled_above() -> None:
    ex, x = explanation()
    bins = 40
    distribution = ex.distribution(bins=bins)
    root = svg(beeswarm_chart(distributions(distribution)))
    assert_accessible(root)
    assert "hollow circle when the rows are on average below the feature's median" in desc(root)

    # Expected, from the rows: which bins of x's SHAP values hold only rows below x's median.
    phi = ex.attributions
    low, high = phi.min(), phi.max()
    index = np.minimum(((phi[:, 0] - low) / ((high - low) / bins)).astype(int), bins - 1)
    median = np.median(x)
    below = {b for b in set(index) if (x[index == b] < median).all()}
    above = {b for b in set(index) if (x[index == b] > median).all()}
    assert len(below) > 3 and len(above) > 3

    # Actual, from the drawing: each dot's row (nearest label) and bin (its x on the axis).
    rows = {"".join(t.itertext()): float(t.get("y") or 0) - 4 for t in texts(root, "label")}
    origin, per_unit = axis(root)
    kinds: dict[str, dict[int, set[str]]] = {"x": {}, "kind": {}}
    for group in root.iter("g"):
        classes = (group.get("class") or "").split()
        if "dot" not in classes:
            continue
        for dot in group:
            cx = float(dot.get("cx") or float(dot.get("x") or 0) + 1.5)
            cy = float(dot.get("cy") or float(dot.get("y") or 0) + 1.5)
            row = min(rows, key=lambda name: abs(rows[name] - cy))
            value = origin + cx * per_unit
            b = min(int((value - low) / ((high - low) / bins)), bins - 1)
            kinds[row].setdefault(b, set()).add(classes[1] + ":" + dot.tag)
            if classes[1] == "low":  # hollow: white inside, the colour on the outline
                assert group.get("fill") == "#fff" and dot.get("stroke", "").startswith("#")
            if classes[1] == "high":
                assert dot.get("fill", "#fff") != "#fff"
    assert {b for b, k in kinds["x"].items() if k == {"low:circle"}} >= below
    assert {b for b, k in kinds["x"].items() if k == {"high:circle"}} >= above
    assert all(k == {"categorical:rect"} for k in kinds["kind"].values())
    assert set(kinds["x"]) == set(index)  # a dot in every occupied bin, none elsewhere

    text = legend(root)
    for words in (
        "low feature value",
        "high feature value",
        "hollow circle: below the feature's median",
        "filled circle: at or above the median",
        "grey square: categorical feature",
    ):
        assert words in text
    keys = [g for g in root.iter("g") if "key" in (g.get("class") or "").split()]
    assert {(g.get("class") or "").split()[1] for g in keys} == {"low", "high", "categorical"}


def test_beeswarm_legend_only_lists_shapes_that_are_drawn() -> None:
    ex, _ = explanation()
    numeric_only = ex.distribution(features=1)
    text = legend(svg(beeswarm_chart(distributions(numeric_only))))
    assert "hollow circle" in text and "grey square" not in text
    categorical = [dict(d, levels=None) for d in numeric_only]
    text = legend(svg(beeswarm_chart(distributions(categorical))))
    assert "grey square" in text and "hollow circle" not in text


def test_beeswarm_dots_stay_small() -> None:
    """Shared dot attributes sit on one <g> per kind, so the shape costs no bytes per dot: a dot
    is no longer than the plain coloured circle it replaced (about 68 bytes with its newline)."""
    ex, _ = explanation(2000)
    root = svg(beeswarm_chart(distributions(ex.distribution())))
    dots = [d for g in root.iter("g") if "dot" in (g.get("class") or "").split() for d in g]
    assert len(dots) > 50
    size = sum(len(ET.tostring(d, encoding="unicode").strip()) for d in dots)
    assert size / len(dots) < 66


# -- waterfall: direction as a sign ------------------------------------------------------------


def test_waterfall_steps_carry_their_sign() -> None:
    example: dict[str, Any] = {
        "row_id": 7,
        "base_value": -1.0,
        "model_output": -1.0 + 0.5 - 0.8 + 0.1 - 0.05,
        "contributions": [
            {"feature": "a", "value": 1, "attribution": 0.5},
            {"feature": "b", "value": 2, "attribution": -0.8},
            {"feature": "c", "value": 3, "attribution": 0.1},
            {"feature": "d", "value": 4, "attribution": -0.05},
        ],
    }
    root = svg(waterfall_chart(decision(example)))
    assert_accessible(root)
    steps = [r for r in root.iter("rect") if r.get("class") == "step"]
    assert len(steps) == 4
    for step, c in zip(steps, example["contributions"], strict=True):
        y = float(step.get("y") or 0)
        printed = row_text(root, "value", y, y + float(step.get("height") or 0))
        assert printed == f"{c['attribution']:+.3f}"
        assert printed[0] == ("-" if c["attribution"] < 0 else "+")
        assert math.copysign(
            1, float(step.get("data-end") or 0) - float(step.get("data-start") or 0)
        ) == math.copysign(1, c["attribution"])
    assert "negative steps (orange): towards the adverse outcome" in legend(root)
    assert "signed value" in desc(root)


def test_beeswarm_bin_at_a_tied_median_is_not_drawn_below_it() -> None:
    """A column that is mostly 0 (like capital gain): 0 is its median, and the zero rows' mean
    percentile rank is under 0.5 because of the ties; their bin is still drawn filled ("at or
    above the median"), and only the bin of values truly below the median is hollow."""
    rng = np.random.default_rng(1)
    n = 400
    x = np.where(rng.random(n) < 0.9, 0.0, rng.uniform(1, 100, n))
    x[:5] = -50.0  # a few values below the median
    ex = explained((x / 100.0)[:, None], pd.DataFrame({"gain": x}))
    ranks = pd.Series(x).rank(pct=True).to_numpy()
    assert ranks[x == 0].mean() < 0.5  # the ties pull the median's rank down
    (dist,) = ex.distribution(bins=10)
    assert dist["median_level"] == pytest.approx(ranks[x == 0].mean())
    root = svg(beeswarm_chart(distributions([dist])))
    xs: dict[str, set[float]] = {"low": set(), "high": set()}
    for group in root.iter("g"):
        classes = (group.get("class") or "").split()
        for kind in xs:
            if "dot" in classes and kind in classes:
                xs[kind] |= {round(float(c.get("cx") or 0), 1) for c in group}
    assert len(xs["low"]) == 1, xs  # only the bin of the -50 values is hollow
    assert xs["high"] and not xs["low"] & xs["high"]
    origin, per_unit = axis(root)
    (hollow_x,) = xs["low"]
    assert origin + hollow_x * per_unit == pytest.approx(-0.5, abs=0.1)  # -50 / 100
