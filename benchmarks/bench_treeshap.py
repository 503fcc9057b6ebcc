"""Benchmark audit's compiled TreeSHAP (audit.explain.fasttree) against shap.TreeExplainer.

For the Adult sample model (HGB pipeline: its final estimator on the transformed test rows),
the German sample random forest, and 200-tree depth-6 / depth-8 RF, HGB, XGBoost and LightGBM
models on 20 features, prints rows/s of ours, of ``shap.TreeExplainer(model)(X)`` and of the
libraries' native contributions, the ratios, max |ours - shap|, and the one-off compile cost
(extraction + path tables; the numba JIT is timed once, first).

Run from the repository root:  python benchmarks/bench_treeshap.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from bench_explain import best  # benchmarks/ is on the path when run as a script

ROOT = Path(__file__).resolve().parents[1]


def sample(name: str, frame: str) -> tuple[object, np.ndarray]:
    from audit.loaders import load_model

    model = load_model(ROOT / name)
    rows = pd.read_csv(ROOT / frame)[model.feature_names]
    pipe = model.estimator
    return pipe[-1], np.asarray(pipe[:-1].transform(rows), dtype=float)


def synthetic(kind: str, depth: int, n_train: int) -> tuple[object, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_train, 20))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + np.sin(X[:, 3]) + rng.normal(size=n_train) > 0).astype(int)
    if kind == "RF":
        from sklearn.ensemble import RandomForestClassifier

        model = RandomForestClassifier(200, max_depth=depth, n_jobs=-1, random_state=0)
    elif kind == "HGB":
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(
            max_iter=200, max_depth=depth, max_leaf_nodes=None, early_stopping=False
        )
    elif kind == "XGBoost":
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=200, max_depth=depth)
    else:
        import lightgbm

        model = lightgbm.LGBMClassifier(
            n_estimators=200, max_depth=depth, num_leaves=2**depth, verbose=-1
        )
    model.fit(X, y)
    return model, rng.normal(size=(20000, 20))


def native(model: object, X: np.ndarray) -> Callable[[], object] | None:
    library = type(model).__module__.split(".", 1)[0]
    if library == "xgboost":
        import xgboost

        booster = model.get_booster()  # type: ignore[attr-defined]
        return lambda: booster.predict(xgboost.DMatrix(X), pred_contribs=True)
    if library == "lightgbm":
        return lambda: model.booster_.predict(X, pred_contrib=True)  # type: ignore[attr-defined]
    return None


def bench(label: str, model: object, X: np.ndarray, rows: int, repeat: int) -> None:
    import shap

    from audit.explain.fasttree import compile_ensemble

    X = X[:rows]
    t0 = time.perf_counter()
    ens = compile_ensemble(model)
    _ = ens.tables
    compile_s = time.perf_counter() - t0
    ours = best(lambda: ens.shap_values(X), repeat)
    explainer = shap.TreeExplainer(model)
    theirs_rows = min(rows, max(200, rows // 4))  # shap is slow: time it on fewer rows
    theirs = (
        best(lambda: explainer(X[:theirs_rows], check_additivity=False), 1) * rows / theirs_rows
    )
    values, _ = ens.shap_values(X[:theirs_rows])
    reference = np.asarray(explainer(X[:theirs_rows], check_additivity=False).values)
    gap = float(np.abs(values - reference).max())
    own = native(model, X)
    native_s = best(own, repeat) if own else None
    line = (
        f"{label:<26} ours {rows / ours:>9.0f} rows/s  shap {rows / theirs:>8.0f}  "
        f"x{theirs / ours:>5.1f} vs shap"
    )
    if native_s:
        line += f"  native {rows / native_s:>8.0f}  x{native_s / ours:>4.1f} vs native"
    line += f"  max|ours-shap| {gap:.1e}  compile {compile_s:.2f} s"
    line += f"  tables {ens.table_bytes / 2**20:.1f} MiB"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rows and training rows")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import numba

    from audit.explain.fasttree import compile_ensemble

    rows = 1000 if args.quick else 5000
    n_train = 20000 if args.quick else 100000
    print(f"numba threads: {numba.get_num_threads()}")
    from sklearn.tree import DecisionTreeRegressor

    t0 = time.perf_counter()
    tiny = DecisionTreeRegressor(max_depth=2).fit(np.eye(3), [0, 1, 2])
    compile_ensemble(tiny).shap_values(np.eye(3))
    print(f"first call (numba JIT or its on-disk cache): {time.perf_counter() - t0:.2f} s")
    model, X = sample("samples/adult/models/adult-gbm.skops", "samples/adult/adult_test.csv")
    bench("Adult sample (HGB)", model, X, min(rows, len(X)), args.repeat)
    model, X = sample("samples/german/models/german-rf.skops", "samples/german/german_test.csv")
    bench("German sample (RF)", model, np.tile(X, (5, 1)), rows, args.repeat)
    for depth in (6, 8):
        for kind in ("RF", "HGB", "XGBoost", "LightGBM"):
            model, X = synthetic(kind, depth, n_train)
            bench(f"{kind} 200 trees depth {depth}", model, X, rows, args.repeat)


if __name__ == "__main__":
    main()
