"""The audit engine: partition statistics merge exactly, and every backend gives the same report.

Independent oracles: :func:`audit.fairness.compute_fairness` / ``compute_performance`` /
``data_profile`` on all rows at once (themselves checked against fairlearn and scikit-learn in
their own tests), fairlearn's MetricFrame for the merged counts, and the in-memory backend's
report for the streaming and Dask backends (byte-equal JSON).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.data import data_profile
from audit.engine import finalize
from audit.engine.partition import model_decisions
from audit.engine.sample import Sample, key_bound
from audit.engine.stats import merge_stats, summarise_arrays
from audit.fairness import compute_fairness, compute_performance
from audit.fairness.counters import RESOLUTION, ScoreCounter, median

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def _data(n: int = 4000, seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    sens = pd.DataFrame(
        {
            "sex": rng.choice(np.array(["F", "M", None], dtype=object), n, p=[0.45, 0.5, 0.05]),
            "band": rng.choice(np.array([1, 2, 3]), n),
        }
    )
    y = rng.random(n) < 0.4
    s = np.round(rng.random(n), 3)  # ties, as tree models give
    return {"sens": sens, "y": y, "s": s, "p": s > 0.45, "miss": rng.random(n) < 0.1}


def _stats(d: dict, idx: np.ndarray):
    return summarise_arrays(
        d["sens"].iloc[idx].reset_index(drop=True),
        d["p"][idx],
        y_true=d["y"][idx],
        scores=d["s"][idx],
        missing=d["miss"][idx],
    )


def _json(report: dict) -> str:
    return json.dumps({k: v.model_dump(mode="json") for k, v in report.items()}, sort_keys=True)


@pytest.mark.parametrize("parts", [1, 2, 9])
def test_merged_partitions_give_the_all_rows_report_exactly(parts: int) -> None:
    d = _data()
    rng = np.random.default_rng(parts)
    chunks = [_stats(d, ix) for ix in np.array_split(rng.permutation(len(d["y"])), parts)]
    rng.shuffle(chunks)  # merge order must not matter
    merged = merge_stats(chunks)
    options = finalize.FairnessOptions(n_bootstrap=200, min_group_size=30, seed=5)
    got = finalize.fairness(merged, ["sex", "band"], options).to_report()
    want = compute_fairness(
        d["y"], d["p"], d["sens"], scores=d["s"], n_bootstrap=200, min_group_size=30, seed=5
    ).to_report()
    assert _json(got) == _json(want)  # byte-equal, intervals included
    assert finalize.performance(merged) == compute_performance(d["y"], d["p"], d["s"])
    frame = d["sens"].assign(x=np.where(d["miss"], np.nan, 1.0))
    assert finalize.profile(merged, ["sex", "band"]) == data_profile(
        frame, d["y"], ["sex", "band"], ["x"]
    )


def test_merged_counts_equal_fairlearn_metricframe() -> None:
    from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

    d = _data(seed=11)
    merged = merge_stats([_stats(d, ix) for ix in np.array_split(np.arange(4000), 5)])
    got = finalize.fairness(merged, ["sex", "band"], finalize.FairnessOptions(n_bootstrap=0))
    known = d["sens"]["sex"].notna().to_numpy()
    frame = MetricFrame(
        metrics={"sr": selection_rate, "tpr": true_positive_rate},
        y_true=d["y"][known],
        y_pred=d["p"][known],
        sensitive_features=d["sens"]["sex"][known].to_numpy(),
    )
    for group in ("F", "M"):
        metrics = got["sex"].groups[group]
        assert metrics.selection_rate == pytest.approx(frame.by_group.loc[group, "sr"], abs=1e-15)
        assert metrics.tpr == pytest.approx(frame.by_group.loc[group, "tpr"], abs=1e-15)
    assert got["sex"].unknown == int((~known).sum())


def test_score_counters_round_past_the_limit_whatever_the_partitioning(monkeypatch) -> None:
    """Past MAX_DISTINCT distinct scores the counters round to RESOLUTION; rounding commutes with
    merging, so two partitionings still agree exactly."""
    import audit.engine.stats as stats_module

    monkeypatch.setattr(stats_module, "MAX_DISTINCT", 500)
    rng = np.random.default_rng(0)
    n = 3000
    d = {
        "sens": pd.DataFrame({"g": rng.choice(["a", "b"], n)}),
        "y": rng.random(n) < 0.5,
        "s": rng.random(n),
        "miss": np.zeros(n, bool),
    }
    d["p"] = d["s"] > 0.5
    small = [_stats(d, ix) for ix in np.array_split(np.arange(n), 12)]  # each under the limit
    assert not any(s.rounded for s in small)
    one = merge_stats(small)
    other = merge_stats([merge_stats(small[6:]), merge_stats(small[:6])])
    assert one.rounded and other.rounded
    for a, b in zip(one.scores, other.scores, strict=True):
        assert a == b
    values = np.concatenate([c.values for c in one.scores])
    assert np.allclose(values / RESOLUTION, np.round(values / RESOLUTION))


def test_median_of_counts_is_numpys_median() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 1000, 1001):
        values = np.round(rng.random(n), 2)
        unique, counts = np.unique(values, return_counts=True)
        counter = ScoreCounter(unique, np.column_stack([counts, np.zeros((len(unique), 3), int)]))
        assert median(counter) == np.median(values)


def test_explanation_sample_is_the_same_for_every_partitioning() -> None:
    frame = pd.DataFrame({"x": np.arange(10_000)})
    whole = Sample.draw(frame, 0, seed=4, limit=500)
    parts = [
        Sample.draw(frame.iloc[a:b], a, seed=4, limit=500)
        for a, b in ((0, 3000), (3000, 3001), (3001, 10_000))
    ]
    merged = parts[2].merge(parts[0], parts[1])
    assert np.array_equal(whole.population().index, merged.population().index)
    # the Dask backend's key bound (partitions send back about `limit` rows in all) changes nothing
    bound = key_bound(500, 10_000)
    bounded = [
        Sample.draw(frame.iloc[a:b], a, seed=4, limit=500, below=bound)
        for a, b in ((0, 2500), (2500, 5000), (5000, 10_000))
    ]
    assert sum(len(b.positions) for b in bounded) < 1000
    together = bounded[0].merge(*bounded[1:])
    assert together.seen == 10_000 and together.free == 500
    assert np.array_equal(whole.population().index, together.population().index)
    assert len(whole.population()) == 500 and not whole.complete
    # uniform: the sample's positions spread over the file (chi-squared over 10 deciles)
    deciles = np.bincount(whole.population().index // 1000, minlength=10)
    assert ((deciles - 50) ** 2 / 50).sum() < 27.9  # chi2(9) 0.999 quantile
    # a small dataset is its own population, in order; forced rows are kept beside the sample
    assert Sample.draw(frame.iloc[:300], 0, seed=4, limit=500).complete
    forced = np.zeros(10_000, bool)
    forced[[7, 9999]] = True
    kept = Sample.draw(frame, 0, seed=4, limit=10, forced=forced).population()
    assert {7, 9999} <= set(kept.index) and len(kept) == 12


def test_one_model_call_gives_predicts_decisions() -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    y = np.where(X["a"] + rng.normal(size=400) > 0, "yes", "no")
    for est in (
        HistGradientBoostingClassifier(max_iter=20),
        RandomForestClassifier(n_estimators=10, random_state=0),
        LogisticRegression(),
        CalibratedClassifierCV(SVC(), ensemble=False),  # not known: predict() asked as well
    ):
        est.fit(X, y)
        decisions, scores = model_decisions(est, X, "yes")
        assert np.array_equal(decisions, est.predict(X) == "yes"), type(est).__name__
        assert np.array_equal(scores, est.predict_proba(X)[:, 1])


# -- backends on the shipped samples -----------------------------------------------------------


def _run(spec: Path, out: Path, *extra: str) -> dict:
    from audit.cli.app import main

    code = main(["run", str(spec), "--output", str(out), "--no-pdf", "--no-sign", *extra])
    assert code in (0, 1)
    (report,) = out.glob("*/v*/report.json")
    data = json.loads(report.read_text())
    for key in ("report_id", "created_at", "version", "environment", "previous"):
        data.pop(key, None)
    return data


def _spec_copy(folder: Path, tmp_path: Path, explain: dict) -> Path:
    """The sample's spec with absolute paths and other explanation settings."""
    import yaml

    doc = yaml.safe_load((folder / "audit.yaml").read_text())
    for key in ("model", "dataset", "reference_dataset", "policy"):
        if key in doc:
            doc[key] = str((folder / doc[key]).resolve())
    doc.pop("output", None)
    doc["explain"] = explain
    spec = tmp_path / "audit.yaml"
    spec.write_text(yaml.safe_dump(doc))
    return spec


def test_stream_and_dask_backends_give_the_in_memory_report(tmp_path: Path, audit_home) -> None:
    """German credit: memory, stream in 97-row batches, Dask on a two-worker LocalCluster the audit
    starts, and Dask through the address of a scheduler it did not start.
    The explanation population is cut to 150 of the 300 rows, so the seeded sample (and the
    Dask workers' key bound) decide which rows are explained."""
    spec = _spec_copy(SAMPLES / "german", tmp_path, {"population": 150, "sample_size": 100})
    memory = _run(spec, tmp_path / "m", "--engine", "memory")
    stream = _run(spec, tmp_path / "s", "--engine", "stream", "--batch-rows", "97")
    dask = _run(spec, tmp_path / "d", "--engine", "dask", "--workers", "2")
    assert json.dumps(stream, sort_keys=True) == json.dumps(memory, sort_keys=True)
    assert json.dumps(dask, sort_keys=True) == json.dumps(memory, sort_keys=True)
    assert memory["explanations"]["population_rows"] == 150 < memory["subject"]["dataset"]["rows"]
    # a scheduler the audit did not start (a real cluster's address), with two worker processes
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = _run(
            spec, tmp_path / "r", "--engine", "dask", "--scheduler", cluster.scheduler_address
        )
    assert json.dumps(remote, sort_keys=True) == json.dumps(memory, sort_keys=True)


def test_adult_with_drift_streams_to_the_in_memory_report(tmp_path: Path, audit_home) -> None:
    """Adult (16,281 rows, 32,561 reference rows for drift): stream in 2,000-row batches. The
    explanations are cut short (no proxy models or stability): they run on the same population
    either way, which the German test covers."""
    explain = {"sample_size": 100, "proxy_model_rows": 0, "stability_replicas": 0}
    spec = _spec_copy(SAMPLES / "adult", tmp_path, explain)
    memory = _run(spec, tmp_path / "m", "--engine", "memory")
    stream = _run(spec, tmp_path / "s", "--engine", "stream", "--batch-rows", "2000")
    assert memory["drift"] is not None
    assert json.dumps(stream, sort_keys=True) == json.dumps(memory, sort_keys=True)


def test_large_groups_poisson_bootstrap_agrees_with_the_row_bootstrap(monkeypatch) -> None:
    """A group over BOOTSTRAP_ROWS rows is resampled by the Poisson bootstrap over runs of
    neighbouring scores (cost independent of its rows); its intervals must match the row
    bootstrap's (forced here by raising the limit) and hold the exact estimate."""
    import audit.fairness.scores as scores

    rng = np.random.default_rng(7)
    n = 60_000
    s = rng.random(n)
    y = rng.random(n) < s  # calibrated, AUC about 0.83
    codes = np.zeros(n, np.int64)
    fast = scores.score_intervals(
        s, y, codes, 1, n_bootstrap=400, confidence=0.95, rng=np.random.default_rng(1)
    )
    monkeypatch.setattr(scores, "BOOTSTRAP_ROWS", 10**9)
    rows = scores.score_intervals(
        s, y, codes, 1, n_bootstrap=400, confidence=0.95, rng=np.random.default_rng(1)
    )
    exact = scores.score_stats(s, y, s > np.median(s), codes, 1)
    points = {"mean_score": exact.mean_score[0], "auc": exact.auc[0], "ece": exact.ece[0]}
    for name, (low, high) in fast.items():
        r_low, r_high = rows[name][0][0], rows[name][1][0]
        width = r_high - r_low
        assert abs(low[0] - r_low) < 0.25 * width and abs(high[0] - r_high) < 0.25 * width, name
        if name != "ece":  # ECE's bootstrap distribution sits above its estimate (bias)
            assert low[0] <= points[name] <= high[0], name
