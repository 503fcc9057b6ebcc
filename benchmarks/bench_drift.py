"""Benchmark: the drift engine on UCI Adult (training vs test split) and on a synthetic 1M-row case.

Adult: all 14 attribute columns (every column but the label), grouped by ``sex`` and ``race``,
plus label drift. Synthetic: 1,000,000 reference and 1,000,000 current rows, 6 numeric and 4
categorical features (two of each shifted), grouped by two sensitive columns of 5 groups each.

Each case is also computed the plain pandas/scipy way (``pandas.cut`` on the reference deciles,
``value_counts``, ``ks_2samp``, ``chi2_contingency`` on ``pandas.crosstab``), overall only, to
print its time and the largest difference in PSI and p-value (a benchmark that computes different
things is worthless).

    PYTHONPATH=. python benchmarks/bench_drift.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

from audit.drift import EPSILON, compute_drift

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def load_adult() -> tuple[pd.DataFrame, pd.DataFrame]:
    spec = importlib.util.spec_from_file_location("samples_train", SAMPLES / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train = module.read_adult(SAMPLES / "adult" / "raw" / "adult.data", skip_first_line=False)
    return train, pd.read_csv(SAMPLES / "adult" / "adult_test.csv")


def make_synthetic(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(shift: float) -> pd.DataFrame:
        data: dict[str, np.ndarray] = {}
        for i in range(6):
            data[f"num{i}"] = rng.normal(shift if i < 2 else 0.0, 1.0, rows)
        for i in range(4):
            p = np.array([0.4, 0.3, 0.2, 0.1])
            if i < 2 and shift:
                p = p[::-1]
            data[f"cat{i}"] = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), rows, p=p)
        data["sex"] = rng.choice(np.array(["f", "m", "x", "u", "o"], dtype=object), rows)
        data["race"] = rng.choice(np.array(list("ABCDE"), dtype=object), rows)
        return pd.DataFrame(data)

    return frame(0.0), frame(0.3)


def pandas_drift(reference: pd.DataFrame, current: pd.DataFrame, features: list[str]) -> dict:
    out = {}
    for name in features:
        ref, cur = reference[name], current[name]
        if pd.api.types.is_numeric_dtype(ref.dtype):
            ref, cur = ref.dropna(), cur.dropna()
            edges = sorted(set(ref.quantile([k / 10 for k in range(1, 10)]).tolist()))
            cuts = [-np.inf, *edges, np.inf]
            p_ref = pd.cut(ref, cuts).value_counts(normalize=True, sort=False)
            p_cur = pd.cut(cur, cuts).value_counts(normalize=True, sort=False)
            p_value = ks_2samp(ref.to_numpy(), cur.to_numpy()).pvalue
        else:
            p_ref = ref.value_counts(normalize=True, dropna=False)
            p_cur = cur.value_counts(normalize=True, dropna=False)
            union = p_ref.index.union(p_cur.index)
            p_ref, p_cur = p_ref.reindex(union, fill_value=0), p_cur.reindex(union, fill_value=0)
            source = np.repeat(["ref", "cur"], [len(ref), len(cur)])
            values = pd.concat([ref, cur], ignore_index=True).astype(object).fillna("<missing>")
            p_value = chi2_contingency(pd.crosstab(source, values.to_numpy()).to_numpy()).pvalue
        p_ref, p_cur = p_ref.where(p_ref > 0, EPSILON), p_cur.where(p_cur > 0, EPSILON)
        out[name] = (float(((p_cur - p_ref) * np.log(p_cur / p_ref)).sum()), float(p_value))
    return out


def best_of(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def run_case(title: str, reference, current, features, sensitive, label, repeat: int) -> None:
    t_audit, report = best_of(
        repeat,
        lambda: compute_drift(
            reference, current, features=features, sensitive=sensitive, label=label
        ),
    )
    t_overall, _ = best_of(repeat, lambda: compute_drift(reference, current, features=features))
    t_pandas, naive = best_of(repeat, lambda: pandas_drift(reference, current, features))
    psi_diff = max(abs(report.feature(f).psi - naive[f][0]) for f in features)
    p_diff = max(abs(report.feature(f).p_value - naive[f][1]) for f in features)
    groups = sum(len(s.groups) for s in report.features[0].groups)
    print(
        f"{title}: {len(reference):,} reference rows, {len(current):,} current rows, "
        f"{len(features)} features, {len(sensitive)} sensitive columns ({groups} groups)"
    )
    print(f"  audit.drift, overall + groups{' + label' if label else ''}: {t_audit:8.3f} s")
    print(f"  audit.drift, overall only:          {t_overall:8.3f} s")
    print(
        f"  pandas/scipy, overall only:         {t_pandas:8.3f} s "
        f"(ratio {t_pandas / t_overall:.1f}x)"
    )
    print(f"  largest |PSI difference| {psi_diff:.2e}, largest |p difference| {p_diff:.2e}")
    print(f"  max PSI {report.max_psi:.4f} ({report.max_psi_feature})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    train, test = load_adult()
    features = [c for c in train.columns if c != "income"]
    run_case("Adult train vs test", train, test, features, ["sex", "race"], "income", args.repeat)

    reference, current = make_synthetic(args.rows)
    features = [c for c in reference.columns if c not in ("sex", "race")]
    run_case("Synthetic", reference, current, features, ["sex", "race"], None, args.repeat)


if __name__ == "__main__":
    main()
