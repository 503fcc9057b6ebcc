"""Model-agnostic SHAP by antithetic permutation sampling, masking whole input columns.

For a model f, a row x and a background sample B, the interventional value of a coalition S of
input columns is ``v(S) = mean_{b in B} f(x_S, b_{not S})``: the columns in S take x's values, the
others the background row's. The Shapley value of column j is the average, over orderings pi of
the columns, of the marginal contribution ``v(pre_pi(j) + {j}) - v(pre_pi(j))``.

We sample ``pairs`` orderings per row (seeded) and walk each one forwards and backwards
(antithetic sampling, as ``shap.PermutationExplainer`` does), which cancels much of the sampling
noise. Along one ordering the contributions telescope to ``f(x) - v(empty)``, so the values are
additive *exactly* for every row, whatever the sample; the uncertainty is in how the total is
shared, reported as the standard error of each value across the sampled pairs. When the number of
columns is small enough that every ordering fits in the budget (``M!/2 <= pairs``), all orderings
are enumerated and the values are the exact Shapley values.

Masking happens per *input* column: all the transformed columns derived from one input column
(``sex_Female``, ``sex_Male``) switch together, so no row ever shows an impossible one-hot state
and the values are per input column directly.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from audit.explain.interface import (
    Attribution,
    Explainer,
    ExplanationUnavailable,
    ModelRows,
    Target,
)

PROBABILITY = "probability of the positive class"
MARGIN = "decision function (margin) of the positive class"

#: Model evaluations per batch: bounds memory (rows x transformed columns x 8 bytes).
_BATCH_ROWS = 60_000


class PermutationSHAP(Explainer):
    """Any estimator with ``predict_proba``, ``decision_function`` or ``predict``."""

    method = "permutation"
    explainer_name = "audit PermutationSHAP (antithetic permutation sampling, interventional)"
    needs_background = True
    background_kind = "a seeded random background sample of the audited data (interventional)"

    def __init__(self, pairs: int = 4) -> None:
        if pairs < 2:
            raise ValueError("pairs must be at least 2 (the spread across pairs is the error)")
        self.pairs = pairs

    @classmethod
    def supports(cls, estimator: Any) -> bool:
        return any(hasattr(estimator, m) for m in ("predict_proba", "decision_function", "predict"))

    def explain(
        self,
        estimator: Any,
        rows: ModelRows,
        *,
        target: Target,
        background: np.ndarray | None,
        owner: np.ndarray,
        seed: int,
    ) -> Attribution:
        if background is None or len(background) == 0:
            raise ValueError("PermutationSHAP needs a non-empty background sample")
        model, space = _output_function(estimator, target, rows.native)
        n_inputs = int(owner.max()) + 1 if owner.size else 0
        used = np.unique(owner)  # input columns that reach the estimator; the rest get 0
        orderings, exact = _orderings(len(used), self.pairs)

        f_x = model(rows.dense)
        base = float(model(background).mean())
        values = np.zeros((len(rows.dense), n_inputs))
        error = np.zeros_like(values)
        rng = np.random.default_rng(seed)
        n_orders = len(orderings) if exact else self.pairs
        chunk = max(1, _BATCH_ROWS // max(1, 2 * n_orders * len(background) * (len(used) - 1)))
        for start in range(0, len(rows.dense), chunk):
            x = rows.dense[start : start + chunk]
            if exact:
                perms = np.broadcast_to(orderings, (len(x), *orderings.shape))
            else:
                perms = rng.permuted(np.tile(np.arange(len(used)), (len(x), self.pairs, 1)), axis=2)
            phi, se = _contributions(
                model, x, background, owner, used, perms, f_x[start : start + chunk], base
            )
            values[start : start + len(x), used] = phi
            error[start : start + len(x), used] = 0.0 if exact else se
        return Attribution(
            values=values,
            base_value=base,
            model_output=f_x,
            output_space=space,
            explainer=None if not exact else self.explainer_name + ", all orderings: exact",
            per_input_column=True,
            standard_error=error,
        )


def _orderings(m: int, pairs: int) -> tuple[np.ndarray, bool]:
    """All orderings up to reversal when they fit in ``pairs``; else a (1, m) placeholder."""
    if m >= 2 and math.factorial(m) // 2 <= pairs:
        every = [p for p in itertools.permutations(range(m)) if p[0] < p[-1]]
        return np.asarray(every, dtype=np.intp), True
    if m < 2:
        return np.arange(m, dtype=np.intp)[None, :], True
    return np.zeros((pairs, m), dtype=np.intp), False


def _contributions(
    model: Any,
    x: np.ndarray,
    background: np.ndarray,
    owner: np.ndarray,
    used: np.ndarray,
    perms: np.ndarray,
    f_x: np.ndarray,
    base: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Shapley estimates (rows x used columns) and their standard errors across pairs.

    ``perms[i, p]`` is the p-th ordering (positions into ``used``) for row i. Walking forwards,
    step t adds ``perms[i, p, t-1]``; backwards, it adds ``perms[i, p, m-t]``. Only the m-1
    intermediate coalitions of each walk need the model: the empty one is ``base`` and the full
    one is ``f(x)``.
    """
    n, pairs, m = perms.shape
    if m == 1:
        return (f_x - base)[:, None], np.zeros((n, 1))
    # rank[i, p, c] = position of used column c in ordering p of row i.
    rank = np.argsort(perms, axis=2)
    steps = np.arange(1, m)
    # Forward coalition after t steps: columns with rank < t; backward: rank >= m - t.
    forward = rank[:, :, None, :] < steps[None, None, :, None]
    backward = rank[:, :, None, :] >= (m - steps)[None, None, :, None]
    coalitions = np.stack([forward, backward], axis=2)  # (n, pairs, 2, m-1, m)
    # Map used-column coalitions to transformed columns.
    position = np.full(int(owner.max()) + 1, -1)
    position[used] = np.arange(len(used))
    take = coalitions[..., position[owner]]  # (n, pairs, 2, m-1, D)
    hybrid = np.where(
        take[..., None, :], x[:, None, None, None, None, :], background[None, None, None, None]
    )  # (n, pairs, 2, m-1, B, D)
    v_mid = model(hybrid.reshape(-1, x.shape[1])).reshape(n, pairs, 2, m - 1, len(background))
    v_mid = v_mid.mean(axis=-1)
    full = np.broadcast_to(f_x[:, None, None, None], (n, pairs, 2, 1))
    empty = np.full((n, pairs, 2, 1), base)
    v = np.concatenate([empty, v_mid, full], axis=3)  # (n, pairs, 2, m+1)
    delta = np.diff(v, axis=3)  # contribution of the column added at each step
    added = np.stack([perms, perms[:, :, ::-1]], axis=2)  # (n, pairs, 2, m)
    per_walk = np.zeros((n, pairs, 2, m))
    np.put_along_axis(per_walk, added, delta, axis=3)
    per_pair = per_walk.mean(axis=2)  # (n, pairs, m)
    phi = per_pair.mean(axis=1)
    se = per_pair.std(axis=1, ddof=1) / np.sqrt(pairs) if pairs > 1 else np.zeros_like(phi)
    return phi, se


def _output_function(estimator: Any, target: Target, native: Any) -> tuple[Any, str]:
    """f(dense rows) -> the explained output, and the name of its space."""
    columns = native.columns if isinstance(native, pd.DataFrame) else None

    def as_native(dense: np.ndarray) -> Any:
        return dense if columns is None else pd.DataFrame(dense, columns=columns)

    if target.is_classifier:
        k = target.positive_index
        if hasattr(estimator, "predict_proba"):
            return (
                lambda d: np.asarray(estimator.predict_proba(as_native(d)), float)[:, k]
            ), PROBABILITY
        if hasattr(estimator, "decision_function") and target.class_index is not None:
            return (
                lambda d: np.asarray(estimator.decision_function(as_native(d)), float)[:, k]
            ), MARGIN
        if hasattr(estimator, "decision_function"):
            sign = 1.0 if k == 1 else -1.0
            return (
                lambda d: sign * np.asarray(estimator.decision_function(as_native(d)), float)
            ), MARGIN
        raise ExplanationUnavailable(
            f"{type(estimator).__name__} has neither predict_proba nor decision_function: there "
            "is no score to explain"
        )
    return (lambda d: np.asarray(estimator.predict(as_native(d)), float)), "predicted value"
