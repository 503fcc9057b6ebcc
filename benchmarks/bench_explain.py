"""Benchmark the explain engine against shap's own explainers on the same rows.

Prints rows explained per second and ratios (ours / theirs; above 1 = we are faster):

1. the sample Adult model (HistGradientBoosting pipeline): the default audit explanation (1,000
   rows, reasons, stability) end to end, and its attributions alone, against
   ``shap.TreeExplainer(model)`` with defaults on the same transformed rows;
2. 200 trees of depth 6 on 20 features (XGBoost, LightGBM, scikit-learn HistGradientBoosting)
   against ``shap.TreeExplainer`` defaults and the library's raw native TreeSHAP;
3. the model-agnostic path on an Adult logistic regression and an MLP (1,000 rows), against
   ``shap.PermutationExplainer`` with defaults on transformed columns (timed on fewer rows).

Run from the repository root:  python benchmarks/bench_explain.py [--quick]
Timings are the best of ``--repeat`` runs; the machine's load matters, the ratios less so.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def line(label: str, rows: int, seconds: float, reference: float | None = None) -> None:
    rate = rows / seconds
    ratio = "" if reference is None else f"   x{reference / seconds * 1:.2f} vs shap"
    print(f"  {label:<58} {rows:>6} rows {seconds:>8.2f} s {rate:>9.0f} rows/s{ratio}")


def adult(repeat: int) -> None:
    import shap

    from audit.explain import explain_model, load_reason_codes
    from audit.loaders import load_model

    model = load_model(ROOT / "samples/adult/models/adult-gbm.skops")
    frame = pd.read_csv(ROOT / "samples/adult/adult_test.csv")
    X = frame[model.feature_names]
    codes = load_reason_codes(ROOT / "policies/reason-codes/adult.yaml")
    pipe = model.estimator
    print("Adult sample model (HistGradientBoostingClassifier, 200 iterations), 1,000 rows")

    def audit_default() -> object:
        ex = explain_model(
            pipe,
            X,
            positive_label=">50K",
            sensitive_features=["sex", "race"],
            groups=frame[["sex", "race"]],
            reason_codes=codes,
        )
        return ex.to_report()

    ex = explain_model(pipe, X, positive_label=">50K", stability_replicas=0)
    rows = pipe[:-1].transform(X.iloc[ex.row_positions])
    theirs = best(lambda: shap.TreeExplainer(pipe[-1]).shap_values(rows), repeat)
    ours = best(lambda: explain_model(pipe, X, positive_label=">50K", stability_replicas=0), repeat)
    line("shap.TreeExplainer(model).shap_values (transformed rows)", 1000, theirs)
    line("ours: attributions per input column", 1000, ours, theirs)
    full = best(audit_default, repeat)
    line("ours: default audit (reasons, stability, groups, proxies)", 1000, full, theirs)
    print(f"  target: default Adult explanation under 10 s -> {full:.2f} s")


def trees(repeat: int, n_rows: int) -> None:
    import lightgbm
    import shap
    import xgboost
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    from audit.explain import explain_model

    X, y = make_classification(n_samples=5000, n_features=20, n_informative=12, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)])
    rows = frame.iloc[:n_rows]
    dense = rows.to_numpy()
    models = {
        "xgboost": xgboost.XGBClassifier(n_estimators=200, max_depth=6, random_state=0),
        "lightgbm": lightgbm.LGBMClassifier(
            n_estimators=200, max_depth=6, num_leaves=63, verbose=-1, random_state=0
        ),
        "sklearn HGB": HistGradientBoostingClassifier(
            max_iter=200, max_depth=6, early_stopping=False, random_state=0
        ),
    }
    print(f"200 trees of depth 6 on 20 features, {n_rows} rows")
    for name, model in models.items():
        model.fit(frame, y)
        theirs = best(lambda m=model: shap.TreeExplainer(m)(dense, check_additivity=False), repeat)
        line(f"{name}: shap.TreeExplainer defaults", n_rows, theirs)
        if name == "xgboost":
            booster = model.get_booster()
            native = best(
                lambda b=booster: b.predict(
                    xgboost.DMatrix(dense), pred_contribs=True, validate_features=False
                ),
                repeat,
            )
            line(f"{name}: raw Booster.predict(pred_contribs=True)", n_rows, native)
        elif name == "lightgbm":
            native = best(lambda m=model: m.booster_.predict(dense, pred_contrib=True), repeat)
            line(f"{name}: raw Booster.predict(pred_contrib=True)", n_rows, native)
        ours = best(
            lambda m=model: explain_model(
                m, rows, positive_label=1, rows="all", stability_replicas=0
            ),
            repeat,
        )
        line(f"{name}: ours (explain_model, all rows)", n_rows, ours, theirs)


def agnostic(repeat: int, n_rows: int, shap_rows: int) -> None:
    import shap
    from sklearn.base import clone
    from sklearn.neural_network import MLPClassifier

    from audit.explain import explain_model
    from audit.loaders import load_model

    logreg = load_model(ROOT / "samples/adult/models/adult-logreg.skops").estimator
    frame = pd.read_csv(ROOT / "samples/adult/adult_test.csv")
    X = frame[list(logreg.feature_names_in_)]
    mlp = clone(logreg)
    mlp.steps[-1] = ("model", MLPClassifier((64,), max_iter=50, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short fit: the benchmark needs a model, not the best
        mlp.fit(X.iloc[:8000], frame["income"].iloc[:8000])
    print(f"Model-agnostic path (permutation SHAP) on Adult, {n_rows} rows, background 200")
    for name, model in (("logistic regression", logreg), ("MLP (64 hidden)", mlp)):
        ex = explain_model(
            model,
            X,
            positive_label=">50K",
            sample_size=n_rows,
            method="permutation",
            stability_replicas=0,
        )
        pre, est = model[:-1], model[-1]
        rows = pre.transform(X.iloc[ex.row_positions[:shap_rows]])
        background = pre.transform(X.iloc[ex.background_rows])
        explainer = shap.PermutationExplainer(
            lambda d, e=est: e.predict_proba(d)[:, 1], shap.maskers.Independent(background, 200)
        )
        theirs = best(lambda x=explainer, r=rows: x(r), 1) * n_rows / shap_rows
        line(f"{name}: shap.PermutationExplainer defaults (est.)", n_rows, theirs)
        ours = best(
            lambda m=model: explain_model(
                m,
                X,
                positive_label=">50K",
                sample_size=n_rows,
                method="permutation",
                stability_replicas=0,
            ),
            repeat,
        )
        line(f"{name}: ours, 4 antithetic pairs per row", n_rows, ours, theirs)
        print(f"    sampling error of the values: {ex.to_report().sampling_error}")
    print("  target: 1,000 Adult rows for an MLP in under a minute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer rows, one repeat")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    np.seterr(all="ignore")
    adult(repeat)
    trees(repeat, 500 if args.quick else 2000)
    agnostic(1, 200 if args.quick else 1000, 20 if args.quick else 50)


if __name__ == "__main__":
    main()
