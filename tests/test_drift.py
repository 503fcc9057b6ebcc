"""Drift engine: PSI and two-sample tests checked against hand counts, pandas and scipy; drift
found on shifted Adult data and not on resampled Adult data."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from audit.drift import EPSILON, compute_drift, psi
from audit.errors import InputError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# every input column of the shipped Adult sample (its header, less the label)
ADULT_COLUMNS = [
    c for c in pd.read_csv(SAMPLES / "adult" / "adult_train.csv", nrows=0).columns if c != "income"
]


# --- independent reference implementations (pandas, no shared code with audit.drift) ----------


def pandas_psi_numeric(ref: pd.Series, cur: pd.Series, bins: int = 10) -> float:
    """PSI with pandas.cut on the reference's deciles (pandas quantiles), epsilon for empty bins."""
    ref, cur = ref.dropna(), cur.dropna()
    edges = sorted(set(ref.quantile([k / bins for k in range(1, bins)]).tolist()))
    cuts = [-np.inf, *edges, np.inf]
    p_ref = pd.cut(ref, cuts, right=True).value_counts(normalize=True, sort=False)
    p_cur = pd.cut(cur, cuts, right=True).value_counts(normalize=True, sort=False)
    return pandas_psi_sum(p_ref, p_cur)


def pandas_psi_categorical(ref: pd.Series, cur: pd.Series) -> float:
    p_ref = ref.value_counts(normalize=True, dropna=False)
    p_cur = cur.value_counts(normalize=True, dropna=False)
    union = p_ref.index.union(p_cur.index)
    return pandas_psi_sum(p_ref.reindex(union, fill_value=0), p_cur.reindex(union, fill_value=0))


def pandas_psi_sum(p_ref: pd.Series, p_cur: pd.Series) -> float:
    p_ref = p_ref.where(p_ref > 0, EPSILON)
    p_cur = p_cur.where(p_cur > 0, EPSILON)
    return float(((p_cur - p_ref) * np.log(p_cur / p_ref)).sum())


def crosstab_chi2(ref: pd.Series, cur: pd.Series) -> tuple[float, float]:
    values = pd.concat([ref, cur], ignore_index=True).astype(object).fillna("<missing>")
    source = ["ref"] * len(ref) + ["cur"] * len(cur)
    result = chi2_contingency(pd.crosstab(np.array(source), values.to_numpy()).to_numpy())
    return float(result.statistic), float(result.pvalue)


# --- PSI -------------------------------------------------------------------------------------


def test_psi_matches_hand_computation() -> None:
    # shares 0.5/0.3/0.2 -> 0.3/0.3/0.4
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + 0 + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert psi(np.array([50, 30, 20]), np.array([30, 30, 40])) == pytest.approx(expected, 1e-12)
    # an empty reference bin counts as share 1e-4; a bin empty in both contributes nothing
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert psi(np.array([10, 0, 0]), np.array([5, 5, 0])) == pytest.approx(expected, 1e-12)
    assert psi(np.array([7, 3]), np.array([70, 30])) == pytest.approx(0.0, abs=1e-15)
    # only empty bins are replaced: a share below epsilon (1 in 200,000) is used as it is
    expected = (0.5 - 5e-6) * math.log(0.5 / 5e-6) + (0.5 - 0.999995) * math.log(0.5 / 0.999995)
    assert psi(np.array([1, 199_999]), np.array([5, 5])) == pytest.approx(expected, 1e-12)


def test_numeric_binning_by_hand() -> None:
    # reference 1..10, 2 bins: the median 5.5 is the edge; bins (-inf, 5.5], (5.5, inf).
    reference = pd.DataFrame({"x": np.arange(1, 11)})
    current = pd.DataFrame({"x": [0, 1, 2, 100, 200, 300, 400, 500]})  # 3 low, 5 high
    drift = compute_drift(reference, current, features=["x"], bins=2).feature("x")
    expected = (3 / 8 - 0.5) * math.log(3 / 8 / 0.5) + (5 / 8 - 0.5) * math.log(5 / 8 / 0.5)
    assert drift.bins == 2 and drift.psi == pytest.approx(expected, 1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_numeric_psi_matches_pandas_implementation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame(
        {
            "normal": rng.normal(size=3000),
            "shifted": rng.normal(size=3000),
            "ties": rng.poisson(2, size=3000),  # integer values: tied quantiles, merged bins
            "zeros": np.where(rng.random(3000) < 0.9, 0, rng.exponential(1000, 3000)),
        }
    )
    current = pd.DataFrame(
        {
            "normal": rng.normal(size=2000),
            "shifted": rng.normal(0.5 + seed, 1.5, size=2000),  # partly outside the reference
            "ties": rng.poisson(2.5, size=2000),
            "zeros": np.where(rng.random(2000) < 0.7, 0, rng.exponential(1000, 2000)),
        }
    )
    report = compute_drift(reference, current, features=list(reference.columns))
    for name in reference.columns:
        expected = pandas_psi_numeric(reference[name], current[name])
        assert report.feature(name).psi == pytest.approx(expected, rel=1e-9, abs=1e-12), name
        assert report.feature(name).kind == "numeric"


def test_categorical_psi_matches_pandas_with_unseen_and_missing_categories() -> None:
    rng = np.random.default_rng(7)
    reference = pd.DataFrame(
        {"c": rng.choice(["a", "b", "c", None], 5000, p=[0.5, 0.3, 0.15, 0.05])}
    )
    # "d" is unseen in the reference; "c" never occurs in the current data
    current = pd.DataFrame({"c": rng.choice(["a", "b", "d", None], 4000, p=[0.4, 0.4, 0.1, 0.1])})
    drift = compute_drift(reference, current, features=["c"]).feature("c")
    assert drift.kind == "categorical" and drift.bins == 5  # a, b, c, d, missing
    assert drift.psi == pytest.approx(pandas_psi_categorical(reference["c"], current["c"]), 1e-12)
    statistic, p_value = crosstab_chi2(reference["c"], current["c"])
    assert drift.statistic == pytest.approx(statistic, 1e-12)
    assert drift.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    assert drift.missing_share_reference == reference["c"].isna().mean()
    assert drift.missing_share_current == current["c"].isna().mean()


# --- two-sample tests ------------------------------------------------------------------------


def test_ks_and_chi2_equal_direct_scipy_calls() -> None:
    rng = np.random.default_rng(1)
    reference = pd.DataFrame(
        {"x": rng.normal(size=800), "b": rng.random(800) < 0.3, "k": rng.choice(list("pqr"), 800)}
    )
    current = pd.DataFrame(
        {
            "x": rng.normal(0.1, 1, size=600),
            "b": rng.random(600) < 0.4,
            "k": rng.choice(list("pqr"), 600, p=[0.4, 0.4, 0.2]),
        }
    )
    current.loc[:49, "x"] = np.nan  # numeric missing values are dropped and reported
    report = compute_drift(reference, current, features=["x", "b", "k"])
    x = report.feature("x")
    direct = ks_2samp(reference["x"].to_numpy(), current["x"].dropna().to_numpy())
    assert (x.test.test, x.statistic, x.p_value) == ("ks", direct.statistic, direct.pvalue)
    assert (x.n_reference, x.n_current) == (800, 550)
    assert (x.missing_share_reference, x.missing_share_current) == (0.0, 50 / 600)
    for name in ("b", "k"):  # booleans are categorical: 2 categories -> Yates-corrected 2x2
        drift = report.feature(name)
        assert drift.kind == "categorical" and drift.test.test == "chi2"
        assert (drift.statistic, drift.p_value) == pytest.approx(
            crosstab_chi2(reference[name], current[name]), rel=1e-12
        )


# --- groups ----------------------------------------------------------------------------------


def test_group_drift_equals_drift_computed_on_each_group_alone() -> None:
    rng = np.random.default_rng(3)
    n_ref, n_cur = 4000, 3000
    reference = pd.DataFrame(
        {
            "x": rng.normal(size=n_ref),
            "k": rng.choice(list("abc"), n_ref),
            "g": rng.choice(["u", "v", "w", "tiny"], n_ref, p=[0.5, 0.3, 0.19, 0.01]),
        }
    )
    current = pd.DataFrame(
        {
            "x": rng.normal(size=n_cur),
            "k": rng.choice(list("abc"), n_cur),
            "g": rng.choice(["u", "v", "w", "new", None], n_cur, p=[0.4, 0.3, 0.2, 0.05, 0.05]),
        }
    )
    shifted = (current["g"] == "v").to_numpy()
    current.loc[shifted, "x"] += 1.0
    current.loc[shifted, "k"] = rng.choice(list("abc"), shifted.sum(), p=[0.7, 0.2, 0.1])
    report = compute_drift(reference, current, features=["x", "k"], sensitive=["g"])
    for name in ("x", "k"):
        groups = report.feature(name).by("g")
        assert [g.group for g in groups.groups] == ["new", "tiny", "u", "v", "w"]
        for label in ("u", "v", "w"):
            ref, cur = (
                reference.loc[reference["g"] == label, name],
                current.loc[current["g"] == label, name],
            )
            got = groups.group(label)
            assert (got.status, got.n_reference, got.n_current) == ("ok", len(ref), len(cur))
            if name == "x":
                assert got.psi == pytest.approx(pandas_psi_numeric(ref, cur), rel=1e-9)
                assert got.p_value == ks_2samp(ref.to_numpy(), cur.to_numpy()).pvalue
            else:
                assert got.psi == pytest.approx(pandas_psi_categorical(ref, cur), rel=1e-9)
                assert got.p_value == pytest.approx(crosstab_chi2(ref, cur)[1], rel=1e-9)
        # "tiny" has < 30 current rows (0); "new" has no reference rows
        for label in ("tiny", "new"):
            got = groups.group(label)
            assert got.status == "insufficient_data" and got.psi is None and got.p_value is None
            assert got.n_reference == (reference["g"] == label).sum()
            assert got.n_current == (current["g"] == label).sum()
        assert groups.group("v").psi > 0.25 and groups.group("v").p_value < 1e-6
        assert groups.group("u").psi < 0.1 and groups.group("u").p_value > 1e-3


def test_min_group_size_counts_non_missing_numeric_values() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0), "g": ["a"] * 100})
    current = pd.DataFrame({"x": [np.nan] * 80 + list(range(20)), "g": ["a"] * 100})
    group = compute_drift(reference, current, features=["x"], sensitive=["g"]).feature("x")
    assert group.by("g").group("a").to_report().to_json() == {
        "status": "insufficient_data",
        "n_reference": 100,
        "n_current": 20,
    }
    ok = compute_drift(reference, current, features=["x"], sensitive=["g"], min_group_size=20)
    assert ok.feature("x").by("g").group("a").status == "ok"


# --- label and predictions -------------------------------------------------------------------


def test_label_and_prediction_drift() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame(
        {"x": rng.normal(size=2000), "y": (rng.random(2000) < 0.3).astype(int)}
    )
    current = pd.DataFrame({"x": rng.normal(size=1500), "y": (rng.random(1500) < 0.5).astype(int)})
    ref_scores, cur_scores = rng.beta(2, 5, 2000), rng.beta(2, 3, 1500)
    report = compute_drift(
        reference,
        current,
        features=["x"],
        label="y",
        reference_predictions=ref_scores,
        current_predictions=cur_scores,
    )
    label = report.label
    assert label is not None and label.kind == "categorical"  # integer classes, not a score
    assert label.psi == pytest.approx(pandas_psi_categorical(reference["y"], current["y"]), 1e-12)
    assert label.p_value == pytest.approx(crosstab_chi2(reference["y"], current["y"])[1], 1e-9)
    assert label.psi > 0.1 and label.p_value < 1e-6
    predictions = report.predictions
    assert predictions is not None and predictions.kind == "numeric"  # float scores
    assert predictions.psi == pytest.approx(
        pandas_psi_numeric(pd.Series(ref_scores), pd.Series(cur_scores)), 1e-9
    )
    assert predictions.p_value == ks_2samp(ref_scores, cur_scores).pvalue
    # hard class predictions are categorical
    hard = compute_drift(
        reference,
        current,
        features=["x"],
        reference_predictions=ref_scores > 0.5,
        current_predictions=cur_scores > 0.5,
    ).predictions
    assert hard is not None and hard.kind == "categorical" and hard.bins == 2


def test_report_dict_is_strict_json_with_the_documented_shape() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=500),
            "k": rng.choice(list("ab"), 500),
            "g": rng.choice(list("pq"), 500),
        }
    )
    other = frame.assign(x=frame["x"] * 3)
    data = json.loads(
        json.dumps(
            compute_drift(frame, other, features=["x", "k"], sensitive=["g"], label="k")
            .to_report()
            .to_json(),
            allow_nan=False,
        )
    )
    assert data["method"] == {
        "psi_bins": 10,
        "binning": "reference quantiles",
        "numeric_test": "ks_2samp",
        "categorical_test": "chi2 contingency",
        "epsilon": 1e-4,
        "min_group_size": 30,
    }
    assert set(data["features"]) == {"x", "k"}
    x = data["features"]["x"]
    assert (x["type"], x["test"]) == ("numeric", "ks")
    assert set(x) >= {"psi", "statistic", "p_value", "n_reference", "n_current", "groups"}
    assert set(x["groups"]["g"]) == {"p", "q"}
    assert set(x["groups"]["g"]["p"]) == {"psi", "p_value", "n_reference", "n_current"}
    assert "groups" not in data["label"] and data["predictions"] is None
    assert data["max_psi_feature"] == "x" and data["max_psi"] == x["psi"]
    assert data["features"]["k"]["psi"] == 0.0 and data["features"]["k"]["p_value"] == 1.0


# --- Adult: resampled data is stable, shifted data drifts -------------------------------------


@pytest.fixture(scope="module")
def adult_train() -> pd.DataFrame:
    spec = importlib.util.spec_from_file_location("samples_train", SAMPLES / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.read_adult(SAMPLES / "adult" / "raw" / "adult.data", skip_first_line=False)


@pytest.fixture(scope="module")
def adult_test() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "adult" / "adult_test.csv")


def fires(psi_value: float | None, p_value: float | None) -> bool:
    """The drift rule we recommend: a large shift (PSI > 0.25) that is not noise (p < 0.001)."""
    return psi_value is not None and p_value is not None and psi_value > 0.25 and p_value < 1e-3


def assert_stable(report) -> None:
    for feature in report.features:
        assert feature.psi < 0.1 and feature.p_value > 1e-3, feature.name
        for sensitive in feature.groups:
            for group in sensitive.groups:
                assert not fires(group.psi, group.p_value), (feature.name, group.group)
                # PSI is biased upward in small samples (about (bins - 1) * (1/n_ref + 1/n_cur)
                # with no drift at all), so only large groups are held to PSI < 0.1 alone.
                if min(group.n_reference, group.n_current) >= 1000:
                    assert group.psi < 0.1, (feature.name, group.group)


def test_adult_training_vs_test_split_shows_no_drift(adult_train, adult_test) -> None:
    report = compute_drift(
        adult_train, adult_test, features=ADULT_COLUMNS, sensitive=["sex", "race"], label="income"
    )
    assert_stable(report)
    assert report.label is not None and report.label.psi < 0.1 and report.label.p_value > 1e-3


def test_adult_random_halves_show_no_drift(adult_train) -> None:
    order = np.random.default_rng(0).permutation(len(adult_train))
    half = len(order) // 2
    first, second = adult_train.iloc[order[:half]], adult_train.iloc[order[half:]]
    assert_stable(compute_drift(first, second, features=ADULT_COLUMNS, sensitive=["sex", "race"]))


def test_adult_shifted_copy_drifts_on_exactly_the_shifted_features(adult_train, adult_test) -> None:
    shifted = adult_test.copy()
    shifted["age"] = shifted["age"] + 10
    shifted["hours_per_week"] = shifted["hours_per_week"] * 1.3
    # half of the "Private" workers become self-employed: the category shares change
    private = np.flatnonzero((shifted["workclass"] == "Private").to_numpy())
    moved = np.random.default_rng(0).choice(private, len(private) // 2, replace=False)
    shifted.loc[shifted.index[moved], "workclass"] = "Self-emp-not-inc"
    report = compute_drift(adult_train, shifted, features=ADULT_COLUMNS, sensitive=["sex", "race"])
    drifted = {"age", "hours_per_week", "workclass"}
    for feature in report.features:
        if feature.name in drifted:
            assert feature.psi > 0.25 and feature.p_value < 1e-6, feature.name
        else:
            assert feature.psi < 0.1 and feature.p_value > 1e-3, feature.name
    assert report.max_psi_feature in drifted


def test_adult_shift_in_one_group_is_found_in_that_group_only(adult_train, adult_test) -> None:
    shifted = adult_test.copy()
    women = shifted["sex"] == "Female"
    shifted.loc[women, "age"] = shifted.loc[women, "age"] + 10
    report = compute_drift(
        adult_train, shifted, features=["age", "hours_per_week"], sensitive=["sex"]
    )
    age = report.feature("age").by("sex")
    assert age.group("Female").psi > 0.25 and age.group("Female").p_value < 1e-6
    assert age.group("Male").psi < 0.1 and age.group("Male").p_value > 1e-3
    hours = report.feature("hours_per_week").by("sex")
    assert not any(fires(g.psi, g.p_value) for g in hours.groups)


# --- input errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": []}, "no drift features"),
        ({"features": ["x", "x"]}, "more than once"),
        ({"features": ["nope"]}, "'nope' not found in the reference data"),
        ({"features": ["x"], "sensitive": ["nope"]}, "sensitive column(s) 'nope'"),
        ({"features": ["x"], "label": "nope"}, "label column(s) 'nope'"),
        ({"features": ["s"]}, "'s' is numeric"),
        ({"features": ["gone"]}, "no non-missing value in the audit data"),
        ({"features": ["x"], "bins": 1}, "bins must be"),
        ({"features": ["x"], "min_group_size": 0}, "min_group_size must be"),
        ({"features": ["x"], "reference_predictions": np.zeros(50)}, "only the reference"),
        (
            {
                "features": ["x"],
                "reference_predictions": np.zeros(50),
                "current_predictions": np.zeros(3),
            },
            "current predictions have 3 values but the current data has 40 rows",
        ),
        (
            {
                "features": ["x"],
                "reference_predictions": np.zeros((50, 2)),
                "current_predictions": np.zeros((40, 2)),
            },
            "one-dimensional",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs: dict, message: str) -> None:
    reference = pd.DataFrame({"x": np.arange(50.0), "s": np.arange(50), "gone": np.ones(50)})
    current = pd.DataFrame({"x": np.arange(40.0), "s": ["a"] * 40, "gone": [np.nan] * 40})
    with pytest.raises(InputError) as raised:
        compute_drift(reference, current, **kwargs)
    assert message in raised.value.message and raised.value.hint


def test_empty_data_is_refused() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(InputError, match="audit data has no rows"):
        compute_drift(frame, frame.iloc[:0], features=["x"])
