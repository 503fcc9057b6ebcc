"""Benchmark: streaming drift (audit.drift.stream) on 1M current rows, against compute_drift.

Reference: 100,000 rows; current: 1,000,000 rows; 6 numeric features (two shifted, values
rounded to 2 decimals so that there are ties) grouped by two sensitive columns (2 and 5
groups). Times DriftPlan.build, one DriftPlan.summarise over all 1M rows, the same rows as 10
partitions of 100k, merge + finalize, and compute_drift on the pooled rows; checks that both
reports are identical and prints the pickled size of the statistics.

    PYTHONPATH=. python benchmarks/bench_drift_stream.py [--rows 1000000] [--reference 100000]
"""

from __future__ import annotations

import argparse
import pickle
import time
from functools import reduce

import numpy as np
import pandas as pd

from audit.drift import CurrentDriftStats, DriftPlan, compute_drift


def make(rows: int, shift: float, rng: np.random.Generator) -> pd.DataFrame:
    data = {
        f"num{i}": np.round(rng.normal(shift if i < 2 else 0.0, 1.0, rows), 2) for i in range(6)
    }
    data["sex"] = rng.choice(np.array(["f", "m"], dtype=object), rows)
    data["race"] = rng.choice(np.array(list("ABCDE"), dtype=object), rows)
    return pd.DataFrame(data)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    reference, current = make(args.reference, 0.0, rng), make(args.rows, 0.3, rng)
    kwargs = {"features": [f"num{i}" for i in range(6)], "sensitive": ["sex", "race"]}

    t_build, plan = timed(lambda: DriftPlan.build(reference, **kwargs))
    t_one, whole = timed(lambda: plan.summarise(current))
    bounds = np.linspace(0, len(current), 11).astype(int)
    t_parts, parts = timed(
        lambda: [
            plan.summarise(current.iloc[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    )
    t_final, report = timed(lambda: plan.finalize(reduce(CurrentDriftStats.merge, parts)))
    t_pooled, expected = timed(lambda: compute_drift(reference, current, **kwargs))
    same = report.to_report().to_json() == expected.to_report().to_json()
    same_whole = plan.finalize(whole).to_report().to_json() == expected.to_report().to_json()
    print(
        f"{len(reference):,} reference rows, {len(current):,} current rows, 6 numeric features, "
        "2 sensitive columns (2 + 5 groups)"
    )
    print(f"  DriftPlan.build:                    {t_build:8.3f} s")
    print(f"  summarise, one partition of {len(current):,}: {t_one:8.3f} s")
    print(f"  summarise, 10 partitions:           {t_parts:8.3f} s")
    print(f"  merge + finalize:                   {t_final:8.3f} s")
    print(f"  compute_drift on the pooled rows:   {t_pooled:8.3f} s")
    print(f"  reports identical: {same and same_whole}")
    print(f"  pickled statistics: {len(pickle.dumps(whole)) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
