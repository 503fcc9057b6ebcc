"""Streaming drift (audit.drift.stream): counts per partition, merged, give compute_drift's report
on the pooled rows float for float, whatever the partitioning; the counts stay small."""

from __future__ import annotations

import importlib.util
import pickle
import warnings
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from audit.drift import compute_drift
from audit.drift.stream import CurrentDriftStats, DriftPlan
from audit.errors import InputError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def streamed(
    reference: pd.DataFrame,
    parts: list[pd.DataFrame],
    *,
    reference_predictions: np.ndarray | None = None,
    predictions: list[np.ndarray] | None = None,
    **kwargs,
) -> dict:
    plan = DriftPlan.build(reference, reference_predictions=reference_predictions, **kwargs)
    chunk_predictions = predictions or [None] * len(parts)
    stats = [plan.summarise(p, q) for p, q in zip(parts, chunk_predictions, strict=True)]
    return plan.finalize(reduce(CurrentDriftStats.merge, stats, plan.empty())).to_report().to_json()


def pooled(reference: pd.DataFrame, parts: list[pd.DataFrame], **kwargs) -> dict:
    current = pd.concat(parts, ignore_index=True)
    if kwargs.get("current_predictions") is not None:
        kwargs["current_predictions"] = np.concatenate(kwargs["current_predictions"])
    return compute_drift(reference, current, **kwargs).to_report().to_json()


def outcome(call) -> tuple:
    """The report, or the refusal, and scipy's warnings (e.g. "exact calculation unsuccessful",
    when it falls back to the asymptotic p-value), so that both paths are compared on all three.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: object = call()
        except InputError as error:
            result = ("refused", error.message)
    return result, sorted({str(w.message) for w in caught})


def split(frame: pd.DataFrame, n_parts: int, rng: np.random.Generator | None = None) -> list:
    """``n_parts`` contiguous parts of uneven sizes (some may be empty), or equal ones."""
    if rng is None:
        bounds = np.linspace(0, len(frame), n_parts + 1).astype(int)
    else:
        bounds = np.sort(
            np.concatenate([[0, len(frame)], rng.integers(0, len(frame), n_parts - 1)])
        )
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


# --- the shipped samples ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, pd.DataFrame]:
    spec = importlib.util.spec_from_file_location("samples_train", SAMPLES / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train = module.read_adult(SAMPLES / "adult" / "raw" / "adult.data", skip_first_line=False)
    return train, pd.read_csv(SAMPLES / "adult" / "adult_test.csv")


@pytest.mark.parametrize("n_parts", [1, 3, 17])
def test_adult_streamed_in_parts_equals_compute_drift(adult, n_parts: int) -> None:
    reference, current = adult
    # shift one group so that the group numbers are not all "no drift"
    current = current.assign(age=current["age"] + 5 * (current["sex"] == "Female"))
    rng = np.random.default_rng(n_parts)
    ref_scores, cur_scores = rng.beta(2, 5, len(reference)), rng.beta(2, 3, len(current))
    kwargs = {
        "features": [c for c in current.columns if c != "income"],
        "sensitive": ["sex", "race"],
        "label": "income",
    }
    expected = pooled(
        reference,
        [current],
        reference_predictions=ref_scores,
        current_predictions=[cur_scores],
        **kwargs,
    )
    bounds = split(current, n_parts)
    for order in (range(n_parts), rng.permutation(n_parts)):  # file order, then shuffled
        parts = [current.iloc[slice(*bounds[i])] for i in order]
        scores = [cur_scores[slice(*bounds[i])] for i in order]
        got = streamed(
            reference, parts, reference_predictions=ref_scores, predictions=scores, **kwargs
        )
        assert got == expected  # exact: every float is the same bits


@pytest.mark.parametrize("n_parts", [1, 3, 17])
def test_german_streamed_in_parts_equals_compute_drift(n_parts: int) -> None:
    """German credit: 1,000 reference rows, so every KS p-value takes scipy's exact route;
    the label (integers 0/1) and hard predictions are categorical."""
    reference = pd.read_csv(SAMPLES / "german" / "raw" / "german.csv")
    current = pd.read_csv(SAMPLES / "german" / "german_test.csv")
    ref_pred = (reference["duration"] > 20).to_numpy(dtype=int)
    cur_pred = (current["duration"] > 20).to_numpy(dtype=int)
    kwargs = {
        "features": [c for c in reference.columns if c != "risk"],
        "sensitive": ["sex"],
        "label": "risk",
    }
    expected = pooled(
        reference,
        [current],
        reference_predictions=ref_pred,
        current_predictions=[cur_pred],
        **kwargs,
    )
    assert expected["label"]["type"] == expected["predictions"]["type"] == "categorical"
    rng = np.random.default_rng(n_parts)
    bounds = [split(current, n_parts)[i] for i in rng.permutation(n_parts)]
    got = streamed(
        reference,
        [current.iloc[a:b] for a, b in bounds],
        reference_predictions=ref_pred,
        predictions=[cur_pred[a:b] for a, b in bounds],
        **kwargs,
    )
    assert got == expected


# --- random frames ----------------------------------------------------------------------------


def random_frames(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ties (rounded values), NaNs, a category and a group unseen in the reference, a small group,
    a current value outside the reference range, an integer label and float scores."""
    rng = np.random.default_rng(seed)
    n_ref, n_cur = int(rng.integers(40, 400)), int(rng.integers(1, 300))

    def frame(n: int, current: bool) -> pd.DataFrame:
        shift = 0.5 if current else 0.0
        x = np.round(rng.normal(shift, 1, n), 1)  # many ties
        x[rng.random(n) < 0.1] = np.nan
        cats = ["a", "b", "c", "new"] if current else ["a", "b", "c"]
        groups = ["p", "q", "tiny", "fresh"] if current else ["p", "q", "tiny"]
        weights = np.array([0.5, 0.4, 0.02, 0.08][: len(groups)])
        return pd.DataFrame(
            {
                "x": x,
                "k": rng.integers(0, 4, n),  # integer feature: numeric, 4 distinct values
                "c": pd.Series(rng.choice(cats, n), dtype=object).where(rng.random(n) > 0.05),
                "g": pd.Series(
                    rng.choice(groups, n, p=weights / weights.sum()), dtype=object
                ).where(rng.random(n) > 0.05),
                "h": rng.choice([True, False], n),
                "y": (rng.random(n) < (0.5 if current else 0.3)).astype(int),
            }
        )

    reference, current = frame(n_ref, False), frame(n_cur, True)
    if n_cur > 1:
        current.loc[current.index[0], "x"] = 99.0  # above every reference value
    return reference, current


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_parts=st.integers(1, 12),
    min_group_size=st.sampled_from([1, 5, 30]),
)
def test_random_frames_in_random_parts_equal_compute_drift(
    seed: int, n_parts: int, min_group_size: int
) -> None:
    reference, current = random_frames(seed)
    rng = np.random.default_rng(seed + 1)
    bounds = split(current, n_parts, rng)
    parts = [current.iloc[a:b] for a, b in bounds]
    if n_parts > 2 and len(parts[1]):  # a part whose numeric column is entirely missing
        parts[1] = parts[1].assign(x=np.nan)
    parts = [parts[i] for i in rng.permutation(n_parts)]
    ref_scores, cur_scores = rng.random(len(reference)), rng.random(len(current))
    score_parts = [cur_scores[: len(p)] for p in parts]
    kwargs = {
        "features": ["x", "k", "c", "h"],
        "sensitive": ["g", "h"],
        "label": "y",
        "bins": int(rng.integers(2, 12)),
        "min_group_size": min_group_size,
    }
    expected = outcome(
        lambda: pooled(
            reference,
            parts,
            reference_predictions=ref_scores,
            current_predictions=score_parts,
            **kwargs,
        )
    )
    got = outcome(
        lambda: streamed(
            reference, parts, reference_predictions=ref_scores, predictions=score_parts, **kwargs
        )
    )
    assert got == expected


def test_single_row_parts_and_groups_absent_from_most_parts() -> None:
    reference, current = random_frames(3)
    parts = [current.iloc[[i]] for i in range(len(current))]
    kwargs = {"features": ["x", "k", "c"], "sensitive": ["g"], "label": "y", "min_group_size": 5}
    assert streamed(reference, parts, **kwargs) == pooled(reference, parts, **kwargs)


# --- the KS test from counts ------------------------------------------------------------------


@pytest.mark.parametrize("coarse", [False, True])
@pytest.mark.parametrize(
    ("n_ref", "n_cur"),
    [(50, 37), (3000, 2000), (800, 10_000), (12_000, 300), (20_000, 15_000), (5, 40_000)],
)
def test_ks_from_counts_equals_ks_2samp_on_the_values(n_ref: int, n_cur: int, coarse: bool) -> None:
    """Exact route (both samples <= 10,000) and asymptotic route, with heavy ties on both sides,
    current values between, below and above the reference values. ``coarse``: reference values
    are integers and the current sample sits lower, so the largest gap is at a current value
    between two reference values (F_cur = #cur < r_k), not at a reference value."""
    rng = np.random.default_rng(n_ref + n_cur)
    decimals, shift = (0, -0.3) if coarse else (1, 0.05)
    reference = pd.DataFrame({"x": np.round(rng.normal(0, 1, n_ref), decimals)})
    current = pd.DataFrame({"x": np.round(rng.normal(shift, 1.1, n_cur), 2)})
    direct = ks_2samp(reference["x"].to_numpy(), current["x"].to_numpy())
    plan = DriftPlan.build(reference, features=["x"])
    stats = [plan.summarise(current.iloc[a:b]) for a, b in split(current, 7)]
    got = plan.finalize(reduce(CurrentDriftStats.merge, stats)).feature("x")
    assert (got.statistic, got.p_value) == (float(direct.statistic), float(direct.pvalue))


# --- the statistics themselves ----------------------------------------------------------------


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"num{i}": rng.normal(0.1 * i, 1, rows) for i in range(6)}
    data["sex"] = rng.choice(np.array(["f", "m"], dtype=object), rows)
    data["race"] = rng.choice(np.array(list("ABCDE"), dtype=object), rows)
    data["cat"] = rng.choice(np.array(list("uvw"), dtype=object), rows)
    return pd.DataFrame(data)


FEATURES = [*(f"num{i}" for i in range(6)), "cat"]


def test_merge_is_associative_and_commutative_and_pickles() -> None:
    """The statistics travel from Dask workers: pickled and merged in any grouping."""
    plan = DriftPlan.build(synthetic(2000, 0), features=FEATURES, sensitive=["sex", "race"])
    a, b, c = (plan.summarise(synthetic(n, seed)) for seed, n in ((1, 500), (2, 1), (3, 0)))
    assert a.merge(b).merge(c) == a.merge(b.merge(c)) == c.merge(b).merge(a)
    assert a.merge(plan.empty()) == a and a.merge(b) != a
    total = a.merge(b)
    copy = pickle.loads(pickle.dumps(total))
    assert copy == total
    assert plan.finalize(copy).to_report().to_json() == plan.finalize(total).to_report().to_json()
    plan_copy = pickle.loads(pickle.dumps(plan))  # the plan is shipped to the workers too
    assert plan_copy.summarise(synthetic(500, 1)) == a


def test_statistics_do_not_grow_with_current_rows() -> None:
    plan = DriftPlan.build(synthetic(3000, 0), features=FEATURES, sensitive=["sex", "race"])
    small = len(pickle.dumps(plan.summarise(synthetic(2_000, 1))))
    large = len(pickle.dumps(plan.summarise(synthetic(200_000, 2))))
    # bounded by the reference (distinct values per slice), not by 100x more current rows
    assert large < 1.2 * small
    assert large < 12 * 3000 * 8 * 2 * 3  # ~ (2 cells + bins) per reference value per slice


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": []}, "no drift features"),
        ({"features": ["x", "x"]}, "more than once"),
        ({"features": ["nope"]}, "'nope' not found in the reference data"),
        ({"features": ["x"], "sensitive": ["nope"]}, "sensitive column(s) 'nope'"),
        ({"features": ["x"], "label": "nope"}, "label column(s) 'nope'"),
        ({"features": ["empty"]}, "no non-missing value in the reference data"),
        ({"features": ["x"], "bins": 1}, "bins must be"),
        ({"features": ["x"], "min_group_size": 0}, "min_group_size must be"),
        ({"features": ["x"], "reference_predictions": np.zeros((50, 2))}, "one-dimensional"),
    ],
)
def test_bad_reference_or_settings_are_refused_at_build(kwargs: dict, message: str) -> None:
    reference = pd.DataFrame({"x": np.arange(50.0), "empty": [np.nan] * 50})
    with pytest.raises(InputError) as raised:
        DriftPlan.build(reference, **kwargs)
    assert message in raised.value.message and raised.value.hint


def error_of(call) -> InputError:
    with pytest.raises(InputError) as raised:
        call()
    assert raised.value.hint
    return raised.value


def test_bad_parts_are_refused_with_compute_drifts_messages() -> None:
    reference = pd.DataFrame(
        {"x": np.arange(50.0), "s": np.arange(50), "g": ["a", "b"] * 25, "gone": ["u"] * 50}
    )
    current = pd.DataFrame({"x": np.arange(40.0), "s": ["a"] * 40, "g": ["a"] * 40})
    for columns, kwargs in (
        (["x", "s"], {}),  # 's' is numeric in the reference only
        (["x", "gone"], {}),  # not in the audit data
        (["x"], {"current_predictions": np.zeros(40)}),
    ):
        kwargs = {"features": columns, "sensitive": ["g"], **kwargs}
        plan = DriftPlan.build(reference, **{k: v for k, v in kwargs.items() if "pred" not in k})
        expected = error_of(lambda kw=kwargs: compute_drift(reference, current, **kw))
        got = error_of(
            lambda p=plan, kw=kwargs: p.summarise(current, kw.get("current_predictions"))
        )
        assert got.message == expected.message
    with_predictions = DriftPlan.build(reference, features=["x"], reference_predictions=np.ones(50))
    assert (
        "only the reference predictions"
        in error_of(lambda: with_predictions.summarise(current)).message
    )
    assert (
        "current predictions have 3 values but the current data has 40 rows"
        in error_of(lambda: with_predictions.summarise(current, np.ones(3))).message
    )


def test_no_rows_and_all_missing_are_refused_at_finalize() -> None:
    reference = pd.DataFrame({"x": np.arange(50.0)})
    plan = DriftPlan.build(reference, features=["x"])
    empty = plan.summarise(reference.iloc[:0])
    assert "the audit data has no rows" in error_of(lambda: plan.finalize(empty)).message
    gone = pd.DataFrame({"x": [np.nan] * 5})
    expected = error_of(lambda: compute_drift(reference, gone, features=["x"])).message
    stats = plan.summarise(gone.iloc[:2]).merge(plan.summarise(gone.iloc[2:]))
    assert error_of(lambda: plan.finalize(stats)).message == expected


def test_a_part_whose_column_is_entirely_missing_carries_no_type() -> None:
    """A CSV batch in which a text column is empty parses as float64; pooled with the other
    batches the column is text again, so the part is accepted as missing values and
    the report equals compute_drift's. Without this a streamed audit would fail on a batch that
    the in-memory audit reads fine."""
    reference = pd.DataFrame({"c": list("abab") * 10, "x": np.arange(40.0)})
    parts = [
        pd.DataFrame({"c": list("aab"), "x": [1.0, 2.0, 3.0]}),
        pd.DataFrame({"c": [np.nan, np.nan], "x": [4.0, 5.0]}),  # float64 'c'
    ]
    kwargs = {"features": ["c", "x"]}
    assert streamed(reference, parts, **kwargs) == pooled(reference, parts, **kwargs)
    # ... but a part with real numbers in a text column is refused, as compute_drift refuses it
    numbers = pd.DataFrame({"c": [1.0, 2.0], "x": [4.0, 5.0]})
    plan = DriftPlan.build(reference, **kwargs)
    message = error_of(lambda: plan.summarise(numbers)).message
    assert "'c' is not numeric" in message and "numeric (dtype float64) in the audit" in message


def test_integer_label_becomes_numeric_when_a_part_holds_floats() -> None:
    """Pooling an int64 part and a float64 part (a batch with a missing label) gives float64,
    and compute_drift then treats the label as numeric; the plan counts an integer label both
    ways until finalize, so it follows."""
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(size=200), "y": rng.integers(0, 3, 200)})
    whole = pd.DataFrame({"x": rng.normal(size=90), "y": rng.integers(0, 3, 90)})
    floats = whole.iloc[60:].assign(y=whole["y"].iloc[60:].where(rng.random(30) > 0.2))
    kwargs = {"features": ["x"], "label": "y"}
    ints_only = streamed(reference, [whole.iloc[:60]], **kwargs)
    assert ints_only["label"]["type"] == "categorical"
    mixed = [whole.iloc[:30], floats, whole.iloc[30:60]]
    got = streamed(reference, mixed, **kwargs)
    assert got["label"]["type"] == "numeric" and got == pooled(reference, mixed, **kwargs)


def test_sensitive_integers_against_floats_are_refused() -> None:
    """ref int 0/1, a part with a missing group value (float 0.0/1.0/NaN): pooling would relabel
    every group '0.0'/'1.0', so labels would depend on the partition; refused with a fix."""
    reference = pd.DataFrame({"x": np.arange(60.0), "g": [0, 1] * 30})
    plan = DriftPlan.build(reference, features=["x"], sensitive=["g"])
    plan.summarise(pd.DataFrame({"x": [1.0], "g": [1]}))  # same dtype: fine
    plan.summarise(pd.DataFrame({"x": [1.0], "g": [np.nan]}))  # no group at all: fine
    part = pd.DataFrame({"x": [1.0, 2.0], "g": [1.0, np.nan]})
    error = error_of(lambda: plan.summarise(part))
    assert "sensitive column 'g' has dtype int64" in error.message and "Int64" in error.hint


def test_statistics_of_another_plan_are_refused() -> None:
    one = DriftPlan.build(pd.DataFrame({"x": np.arange(50.0)}), features=["x"])
    other = DriftPlan.build(pd.DataFrame({"x": np.arange(51.0)}), features=["x"])
    stats = other.summarise(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="different plan"):
        one.finalize(stats)
    with pytest.raises(ValueError, match="different plans"):
        one.summarise(pd.DataFrame({"x": [1.0]})).merge(stats)
