"""Benchmark: audit's fairness engine against the plain fairlearn MetricFrame way.

Both compute the same per-group metrics (n, selection rate, base rate, TPR, FPR, TNR, FNR,
PPV, NPV, accuracy) and between-group differences for two sensitive string columns of 5 groups
each and their intersection (25 groups), starting from the same DataFrame. Prints:

- time and peak memory of ``compute_fairness`` (no resampling) and of MetricFrame, the ratio,
  and the largest difference between the two results (a benchmark of different work is
  worthless);
- the cost of 1,000 bootstrap resamples of all metrics of all three features (intervals for
  every rate, ratio, comparison and disparity), which does not depend on the row count;
- how long turning the string columns into group codes takes three ways.

Peak memory: for our engine, the peak of numpy/Python allocations (tracemalloc) plus pyarrow's
pool, against the in-memory size of the columns used; for both, the peak resident set of a
forked child above where it started (Linux only; a lower bound, since the child reuses heap
pages the parent had freed). MetricFrame is not traced: tracing slows it about fourfold. MetricFrame runs on the first row count
only (``--fairlearn-rows``); for larger counts its time is extrapolated linearly, as printed.

    PYTHONPATH=. python benchmarks/bench_fairness.py [--rows 1000000 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from audit.fairness import FeatureFairness, compute_fairness

METRICS = {
    "n": count,
    "selection_rate": selection_rate,
    "base_rate": lambda y_true, y_pred: float(np.mean(y_true)),
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "tnr": true_negative_rate,
    "fnr": false_negative_rate,
    "ppv": partial(precision_score, zero_division=np.nan),
    "npv": partial(precision_score, pos_label=False, zero_division=np.nan),
    "accuracy": accuracy_score,
}
FEATURES = [("sex", "sex"), ("race", "race"), ("sex&race", ["sex", "race"])]


def make_data(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male", "nonbinary", "other", "undisclosed"], rows)
    race = rng.choice(["asian", "black", "hispanic", "white", "other"], rows)
    # Outcomes depend a little on the groups, so the disparities are not all ~0.
    bias = (sex == "male") * 0.05 + (race == "white") * 0.05
    y_true = rng.random(rows) < 0.35 + bias
    y_pred = rng.random(rows) < 0.30 + 2 * bias
    return pd.DataFrame({"y_true": y_true, "y_pred": y_pred, "sex": sex, "race": race})


def run_audit(df: pd.DataFrame, n_bootstrap: int = 0):
    return compute_fairness(
        df["y_true"], df["y_pred"], df[["sex", "race"]], n_bootstrap=n_bootstrap
    )


def run_fairlearn(
    df: pd.DataFrame, metrics: dict[str, Callable[..., Any]] = METRICS
) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """MetricFrame by group and between-group differences for each of :data:`FEATURES`; ``df``
    has columns y_true, y_pred, sex and race (bench_scale passes a smaller set of metrics)."""
    results = {}
    for key, columns in FEATURES:
        frame = MetricFrame(
            metrics=metrics,
            y_true=df["y_true"],
            y_pred=df["y_pred"],
            sensitive_features=df[columns],
        )
        results[key] = (frame.by_group, frame.difference())
    return results


def traced_peak(function: Callable[[], Any]) -> int:
    """Peak bytes allocated by ``function()``: numpy/Python allocations (tracemalloc) plus the
    growth of pyarrow's memory pool. Exact for numpy arrays, but tracing slows Python-heavy code
    (MetricFrame) roughly fourfold, so it is used for our engine only."""
    pool = pa.default_memory_pool()
    arrow_before, arrow_max_before = pool.bytes_allocated(), pool.max_memory()
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_peak = max(pool.max_memory() - max(arrow_before, arrow_max_before), 0)
    return peak + max(arrow_peak, pool.bytes_allocated() - arrow_before, 0)


def measure(function: Callable[[], Any]) -> tuple[Any, float, int]:
    """Result, seconds and peak extra memory in bytes of ``function()``, run in a forked child.

    The child starts with the parent's pages (the data) mapped; its peak resident set (reset at
    the start through /proc/self/clear_refs) minus its resident set before the call is what the
    computation added, whatever allocated it (numpy, pandas, pyarrow or sklearn), with no
    tracing overhead on the timing.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak (VmHWM) to the current resident set
        baseline = _status_bytes("VmRSS")
        start = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - start
        peak = _status_bytes("VmHWM") - baseline
        with os.fdopen(write_end, "wb") as out:
            pickle.dump((result, seconds, peak), out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        result, seconds, peak = pickle.load(pipe)
    os.waitpid(pid, 0)
    return result, seconds, peak


def _status_bytes(field: str) -> int:
    """A size from /proc/self/status (Linux), e.g. VmRSS (resident) or VmHWM (its peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status; this benchmark needs Linux")


def timed(function: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def largest_difference(ours, theirs) -> float:
    worst = 0.0
    for key, (by_group, difference) in theirs.items():
        feature = ours[key]
        for label, row in by_group.iterrows():
            label = label if isinstance(label, str) else "&".join(label)
            group = feature.groups[label]
            for metric, value in row.items():
                worst = max(worst, abs(getattr(group, metric) - value))
        worst = max(
            worst,
            abs(feature.demographic_parity_difference - difference["selection_rate"]),
            abs(feature.equal_opportunity_difference - difference["tpr"]),
            abs(feature.equalized_odds_difference - max(difference["tpr"], difference["fpr"])),
        )
    return worst


def bootstrap_cost(report, repeat: int) -> tuple[float, float]:
    """Seconds to derive every metric of every feature from its counts, without and with 1,000
    resamples (counts only: the row count plays no part)."""

    def derive(n_bootstrap: int):
        return [
            FeatureFairness.from_counts(key, f.columns, f.counts, n_bootstrap=n_bootstrap)
            for key, f in report.features.items()
        ]

    _, without = timed(lambda: derive(0), repeat)
    _, with_resamples = timed(lambda: derive(1000), repeat)
    return without, with_resamples


def factorize_times(df: pd.DataFrame, repeat: int) -> dict[str, float]:
    column = df["sex"]
    as_object = column.astype(object)
    ways = {
        f"pd.factorize ({column.dtype} dtype)": lambda: pd.factorize(column),
        "pd.factorize (object dtype)": lambda: pd.factorize(as_object),
        "pyarrow dictionary_encode": lambda: pc.dictionary_encode(pa.array(column.array)),
        "pd.Categorical(...).codes": lambda: pd.Categorical(column).codes,
    }
    return {name: timed(way, repeat)[1] for name, way in ways.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the fast parts")
    parser.add_argument(
        "--fairlearn-rows",
        type=int,
        default=1_000_000,
        help="run MetricFrame only up to this many rows; extrapolate beyond",
    )
    args = parser.parse_args()

    fairlearn_per_row: float | None = None
    for rows in args.rows:
        df = make_data(rows)
        used = df[["y_true", "y_pred", "sex", "race"]].memory_usage(deep=True, index=False).sum()
        print(f"== {rows:,} rows; features: sex (5), race (5), sex&race (25 groups)")
        print(f"columns used: {used / 2**20:,.1f} MiB ({df['sex'].dtype} strings, bool outcomes)")
        ours, ours_time = timed(lambda df=df: run_audit(df), args.repeat)
        _, _, ours_rss = measure(lambda df=df: run_audit(df) and None)
        ours_peak = traced_peak(lambda df=df: run_audit(df))
        print(
            f"audit compute_fairness:  {ours_time:8.3f} s (best of {args.repeat}), "
            f"peak {ours_peak / 2**20:,.1f} MiB allocated = {ours_peak / used:.2f}x the columns "
            f"(tracemalloc + arrow pool); resident-set peak {ours_rss / 2**20:,.1f} MiB"
        )
        if rows <= args.fairlearn_rows:
            theirs, fairlearn_time, fairlearn_peak = measure(lambda df=df: run_fairlearn(df))
            fairlearn_per_row = fairlearn_time / rows
            print(
                f"fairlearn MetricFrame:   {fairlearn_time:8.3f} s (1 run), "
                f"resident-set peak {fairlearn_peak / 2**20:,.1f} MiB (not traced: tracing "
                "slows it fourfold)"
            )
            print(f"speed-up: {fairlearn_time / ours_time:,.0f}x")
            difference = largest_difference(ours, theirs)
            print(f"largest absolute difference between results: {difference:.2e}")
        elif fairlearn_per_row is not None:
            estimate = fairlearn_per_row * rows
            print(
                f"fairlearn MetricFrame:   {estimate:8.3f} s EXTRAPOLATED (not run) from "
                f"{args.fairlearn_rows:,} rows, linear in rows"
            )
            print(f"speed-up (against the extrapolation): {estimate / ours_time:,.0f}x")
        without, with_resamples = bootstrap_cost(ours, args.repeat)
        full, full_time = timed(lambda df=df: run_audit(df, 1000), 1)
        print(
            f"1,000 resamples of all metrics, 3 features: {with_resamples - without:.3f} s "
            f"(from counts: {without:.3f} s without, {with_resamples:.3f} s with); "
            f"compute_fairness with n_bootstrap=1000: {full_time:.3f} s"
        )
        for name, seconds in factorize_times(df, args.repeat).items():
            print(f"  factorize one string column, {name:32s} {seconds:7.3f} s")


if __name__ == "__main__":
    main()
