"""Published worked examples, rebuilt as row-level data and reproduced to the printed precision.

- NYC DCWP rules for Local Law 144 (6 RCNY 5-300..5-304): the selection-rate tables (sex,
  race/ethnicity, and their intersection) and the scoring-rate tables. Each table is rebuilt on
  its own: the published tables do not add up to each other, and the printed rates are rounded.
- EEOC Uniform Guidelines Q&A (44 FR 11996), four-fifths rule: 0.75 flagged, 0.80 not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from audit.fairness import compute_fairness
from tests.helpers import as_json

HISP, WHITE, BLACK = "Hispanic or Latino", "White", "Black or African American"
NHPI, ASIAN = "Native Hawaiian or Pacific Islander", "Asian"
AIAN, TWO = "Native American or Alaska Native", "Two or More Races"

# (applicants, selected, printed impact ratio)
SEX_SELECTION = {"Male": (1390, 667, "1.00"), "Female": (1181, 555, "0.979")}
RACE_SELECTION = {
    HISP: (408, 204, "0.97"),
    WHITE: (797, 412, "1.00"),
    BLACK: (390, 170, "0.84"),
    NHPI: (119, 52, "0.85"),
    ASIAN: (616, 302, "0.95"),
    AIAN: (41, 18, "0.85"),
    TWO: (213, 96, "0.87"),
}
# (sex, race): (applicants, selected)
INTERSECTIONAL = {
    ("Male", WHITE): (412, 215),
    ("Male", HISP): (205, 90),
    ("Female", HISP): (190, 82),
    ("Male", BLACK): (226, 95),
    ("Male", NHPI): (87, 37),
    ("Male", ASIAN): (321, 167),
    ("Male", AIAN): (24, 11),
    ("Male", TWO): (115, 52),
    ("Female", WHITE): (385, 197),
    ("Female", BLACK): (164, 75),
    ("Female", NHPI): (32, 15),
    ("Female", ASIAN): (295, 135),
    ("Female", AIAN): (17, 7),
    ("Female", TWO): (98, 44),
}
UNKNOWN_SELECTION = 250
# (applicants, printed scoring rate, printed impact ratio)
SEX_SCORING = {"Male": (92, "54.3%", "1.00"), "Female": (76, "44.7%", "0.82")}
RACE_SCORING = {
    HISP: (28, "64.3%", "1.00"),
    WHITE: (40, "37.5%", "0.58"),
    BLACK: (32, "50.0%", "0.78"),
    NHPI: (8, "62.5%", "0.97"),
    ASIAN: (24, "41.7%", "0.65"),
    AIAN: (16, "62.5%", "0.97"),
    TWO: (20, "50.0%", "0.78"),
}
UNKNOWN_SCORING = 15


def _decimals(printed: str) -> int:
    return len(printed.rstrip("%").partition(".")[2])


def _selection_rows(table: dict, unknown: int) -> tuple[np.ndarray, pd.DataFrame]:
    """One row per applicant: the first ``selected`` of each category are selected. Unknown
    applicants (no recorded category) are selected at an arbitrary 50%."""
    values, selected = [], []
    for key, (applicants, chosen, *_) in table.items():
        values += [key] * applicants
        selected += [True] * chosen + [False] * (applicants - chosen)
    missing = (None,) * len(next(iter(table))) if isinstance(next(iter(table)), tuple) else None
    values += [missing] * unknown
    selected += [i % 2 == 0 for i in range(unknown)]
    if isinstance(next(iter(table)), tuple):
        frame = pd.DataFrame(values, columns=["sex", "race"])
    else:
        frame = pd.DataFrame({"category": values})
    return np.array(selected), frame


def _scoring_rows(table: dict, unknown: int, seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Scores per applicant such that exactly round(rate * n) of each category score above the
    median of the full sample (unknowns included): "above" rows draw from (0.5, 1), the others
    from (0, 0.5), and the unknowns are split so that the median falls between the two."""
    rng = np.random.default_rng(seed)
    values, high = [], []
    for category, (applicants, rate, _) in table.items():
        above = round(float(rate.rstrip("%")) / 100 * applicants)
        values += [category] * applicants
        high += [True] * above + [False] * (applicants - above)
    total = len(high) + unknown
    unknown_high = total // 2 - sum(high)  # strictly above the median: floor(total / 2) rows
    assert 0 <= unknown_high <= unknown
    values += [None] * unknown
    high += [True] * unknown_high + [False] * (unknown - unknown_high)
    high_arr = np.array(high)
    scores = np.where(
        high_arr, 0.5 + rng.uniform(0.01, 0.49, total), rng.uniform(0.01, 0.49, total)
    )
    assert (scores > np.median(scores)).sum() == high_arr.sum()
    return scores, pd.DataFrame({"category": values})


@pytest.mark.parametrize("table", [SEX_SELECTION, RACE_SELECTION], ids=["sex", "race"])
def test_dcwp_selection_rates_and_impact_ratios(table):
    selected, frame = _selection_rows(table, UNKNOWN_SELECTION)
    feature = compute_fairness(selected, selected, frame, n_bootstrap=0)["category"]
    assert feature.unknown == UNKNOWN_SELECTION
    top = max(table, key=lambda c: table[c][1] / table[c][0])
    assert feature.reference_group == top
    for category, (applicants, chosen, printed) in table.items():
        group = feature.groups[category]
        assert (group.n, group.tp + group.fp) == (applicants, chosen)
        assert group.selection_rate == chosen / applicants
        assert f"{group.impact_ratio:.{_decimals(printed)}f}" == printed


def test_dcwp_intersectional_table_flags_exactly_one_cell():
    selected, frame = _selection_rows(INTERSECTIONAL, UNKNOWN_SELECTION)
    report = compute_fairness(selected, selected, frame, seed=1)
    feature = report["sex&race"]
    assert feature.unknown == UNKNOWN_SELECTION
    assert feature.reference_group == "Male&White"
    for (sex, race), (applicants, chosen) in INTERSECTIONAL.items():
        group = feature.groups[f"{sex}&{race}"]
        assert (group.n, group.tp + group.fp) == (applicants, chosen)
        assert group.impact_ratio == pytest.approx((chosen / applicants) / (215 / 412), abs=1e-12)
    flagged = [label for label, g in feature.groups.items() if g.impact_ratio < 0.8]
    assert flagged == [f"Female&{AIAN}"]
    aian_f = feature.groups[f"Female&{AIAN}"]
    assert f"{aian_f.impact_ratio:.3f}" == "0.789"
    # Small numbers: the flagged cell's difference from the reference is not significant, and
    # the interval of its impact ratio reaches well above 0.8 (what a "confidence bound" or
    # "significance" policy mode needs to decide not to flag it).
    test = aian_f.tests["selection_rate"]
    table = [[7, 17 - 7], [215, 412 - 215]]
    chi2, p_value, *_ = chi2_contingency(table, correction=False)
    assert test.vs == "Male&White" and test.method == "z"
    assert test.statistic**2 == pytest.approx(chi2, rel=1e-12)
    assert test.p_value == pytest.approx(p_value, rel=1e-9)
    assert test.p_value > 0.05
    ci = aian_f.ci["impact_ratio"]
    assert ci.low < aian_f.impact_ratio < 0.8 < ci.high


def test_dcwp_two_percent_exclusion_is_reported_with_count_and_rate():
    selected, frame = _selection_rows(INTERSECTIONAL, UNKNOWN_SELECTION)
    feature = compute_fairness(selected, selected, frame, exclude_below_share=0.02)["sex&race"]
    total = sum(a for a, _ in INTERSECTIONAL.values())
    expected = sorted(f"{s}&{r}" for (s, r), (a, _) in INTERSECTIONAL.items() if a / total < 0.02)
    assert list(feature.excluded_groups) == expected
    assert expected == [f"Female&{AIAN}", f"Female&{NHPI}", f"Male&{AIAN}"]
    aian_f = feature.groups[f"Female&{AIAN}"]
    assert (aian_f.n, aian_f.selection_rate, aian_f.status) == (17, 7 / 17, "ok")
    assert aian_f.impact_ratio is None  # excluded from the impact-ratio calculation ...
    assert aian_f.excluded == "0.66% of the data (17 of 2,571 rows) is under the 2% threshold"
    assert aian_f.ci["selection_rate"] is not None  # ... but its own rate keeps its interval
    report_json = as_json(feature.to_report())
    assert report_json["excluded_groups"] == expected
    assert report_json["groups"][f"Female&{AIAN}"]["excluded"] == aian_f.excluded
    # Without the excluded cells nothing is under 0.8, and they play no part in disparities.
    ratios = {k: g.impact_ratio for k, g in feature.groups.items() if g.impact_ratio is not None}
    assert len(ratios) == len(INTERSECTIONAL) - 3 and min(ratios.values()) >= 0.8
    lowest = min(ratios, key=ratios.__getitem__)
    assert feature.disparities["selection_rate"].worst_pair == (lowest, "Male&White")
    assert feature.demographic_parity_ratio == pytest.approx(ratios[lowest], abs=1e-12)


@pytest.mark.parametrize("table", [SEX_SCORING, RACE_SCORING], ids=["sex", "race"])
def test_dcwp_scoring_rates_and_impact_ratios(table):
    scores, frame = _scoring_rows(table, UNKNOWN_SCORING, seed=len(table))
    decided = scores > 0.5
    feature = compute_fairness(decided, decided, frame, scores=scores, n_bootstrap=200)["category"]
    assert feature.unknown == UNKNOWN_SCORING
    for category, (applicants, rate, printed_ir) in table.items():
        group = feature.groups[category]
        assert group.n == applicants
        assert f"{100 * group.scoring_rate:.1f}%" == rate
        assert f"{group.scoring_impact_ratio:.2f}" == printed_ir
        assert group.ci["scoring_rate"] is not None
    top = max(table, key=lambda c: float(table[c][1].rstrip("%")))
    assert feature.scoring_reference_group == top
    assert as_json(feature.to_report())["reference"]["scoring_group"] == top


def test_eeoc_four_fifths_example_flags_075_not_080():
    """Q&A 12: rates White 60%, American Indian 45%, Hispanic 48%, Black 51%. "Less than"
    four-fifths is flagged, so 48/60 = 0.80 exactly must not be: the ratio is computed from
    the counts ((48 * 100) / (100 * 60)), never as a ratio of two rounded rates."""
    rates = {"White": 60, "American Indian": 45, "Hispanic": 48, "Black": 51}
    race = np.repeat(list(rates), 100)
    selected = np.concatenate([np.arange(100) < k for k in rates.values()])
    feature = compute_fairness(selected, selected, pd.DataFrame({"race": race}))["race"]
    impact = {label: g.impact_ratio for label, g in feature.groups.items()}
    assert impact["Hispanic"] == 0.8
    assert [label for label, ratio in impact.items() if ratio < 0.8] == ["American Indian"]
    assert impact["American Indian"] == 0.75 and impact["Black"] == 0.85


def test_ratios_exactly_four_fifths_are_never_below():
    """Every (x1/n1) / (x2/n2) that is exactly 4/5 for counts under 60 compares as 0.8; a ratio
    of rounded rates gets a third of them wrong."""
    cases = [
        (4 * x2 * n1 // (5 * n2), n1, x2, n2)
        for n1 in range(1, 60, 3)
        for n2 in range(1, 60, 2)
        for x2 in range(1, n2 + 1)
        if (4 * x2 * n1) % (5 * n2) == 0
    ]
    assert sum((x1 / n1) / (x2 / n2) < 0.8 for x1, n1, x2, n2 in cases) > 0  # the trap is real
    for x1, n1, x2, n2 in cases:
        selected = np.array([True] * x1 + [False] * (n1 - x1) + [True] * x2 + [False] * (n2 - x2))
        groups = pd.DataFrame({"g": ["a"] * n1 + ["b"] * n2})
        feature = compute_fairness(selected, selected, groups, n_bootstrap=0)["g"]
        assert feature.groups["a"].impact_ratio == 0.8
