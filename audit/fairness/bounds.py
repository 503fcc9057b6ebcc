"""The intervals of one feature's metrics, each by a method that holds its coverage.

Score-based intervals (:mod:`audit.fairness.intervals`) for every rate, ratio and difference;
the percentile bootstrap of the cell resamples for the between-group summaries. See
:mod:`audit.fairness.metrics` for which number gets which method.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from audit.contract.metrics import LABEL_METRICS
from audit.fairness import intervals as score
from audit.fairness.rates import DISPARITY_METRICS, quantile_interval, spread

ReferenceRule = Literal["most_favoured", "largest", "named"]

#: How the between-group summaries' intervals are computed.
BOOTSTRAP_METHOD = (
    "bootstrap percentile ({n} multinomial resamples of the group cells; the highest and "
    "lowest groups re-chosen in each)"
)
JEFFREYS = "jeffreys"
KOOPMAN = "koopman"
NEWCOMBE = "newcombe"
#: The impact ratio against a reference chosen from the data (the most-favoured group).
KOOPMAN_MOST_FAVOURED = (
    "koopman, min over candidate reference groups (most-favoured group re-chosen; upper limits "
    "Bonferroni-adjusted over the candidates)"
)
REFERENCE_ITSELF = "reference group (1 by definition)"


def unlabelled(key: str, values: np.ndarray) -> np.ndarray:
    """``values``, or NaN where ``key`` (``tpr``, ``tpr.vs_ratio``, ...) needs the label."""
    base = key.split(".", 1)[0]
    if base in LABEL_METRICS or key == "equalized_odds_difference":
        return np.full(np.shape(values), np.nan)
    return values


def spread_only(
    parts: dict[str, tuple[np.ndarray, np.ndarray]], compared: np.ndarray, scored: bool
) -> dict[str, np.ndarray]:
    """The between-group summaries (max - min, min / max, equalized odds) of resampled counts."""
    out: dict[str, np.ndarray] = {}
    for m in DISPARITY_METRICS + (("scoring_rate",) if scored else ()):
        out[f"{m}.difference"], out[f"{m}.ratio"] = spread(*parts[m], compared)
    out["equalized_odds_difference"] = np.maximum(out["tpr.difference"], out["fpr.difference"])
    return out


def score_intervals(
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    compared: np.ndarray,
    ref: int | None,
    scoring_ref: int | None,
    rule: ReferenceRule,
    confidence: float,
    labelled: bool,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """Score-based intervals of every rate, ratio to the reference and difference from it.

    Keys as in :func:`_derive` (``tpr``, ``impact_ratio``, ``tpr.vs_ratio``, ...); values are
    (low, high) arrays over the groups, NaN (or inf) where undefined.
    """
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    methods: dict[str, str] = {}
    versus_ref: list[str] = []
    rated = [m for m in parts if labelled or m not in LABEL_METRICS]
    if rated:
        # one vectorised call for every rate (the quantiles are the expensive part)
        low, high = score.jeffreys(
            np.stack([parts[m][0] for m in rated]),
            np.stack([parts[m][1] for m in rated]),
            confidence,
        )
        for i, m in enumerate(rated):
            out[m], methods[m] = (low[i], high[i]), JEFFREYS
            if ref is not None and m in DISPARITY_METRICS + ("scoring_rate",):
                versus_ref.append(m)
    if versus_ref and ref is not None:
        # one vectorised call for every metric: the score intervals are solved numerically
        x = np.stack([parts[m][0] for m in versus_ref])
        n = np.stack([parts[m][1] for m in versus_ref])
        xr, nr = x[:, ref : ref + 1], n[:, ref : ref + 1]
        ratio = score.koopman_ratio(x, n, xr, nr, confidence)
        difference = score.newcombe_difference(x, n, xr, nr, confidence)
        for i, m in enumerate(versus_ref):
            out[f"{m}.vs_ratio"] = (ratio[0][i], ratio[1][i])
            out[f"{m}.vs_difference"] = (difference[0][i], difference[1][i])
            methods[f"{m}.vs_ratio"], methods[f"{m}.vs_difference"] = KOOPMAN, NEWCOMBE
    for key, rate, base in (
        ("impact_ratio", "selection_rate", ref),
        ("scoring_impact_ratio", "scoring_rate", scoring_ref),
    ):
        if base is None or rate not in parts:
            continue
        x, n = parts[rate]
        if rule == "most_favoured":
            _, low, high = score.most_favoured_ratio(x, n, compared, confidence)
            out[key], methods[key] = (low, high), KOOPMAN_MOST_FAVOURED
        else:
            low, high = score.koopman_ratio(x, n, x[base], n[base], confidence)
            low, high = np.array(low, dtype=float), np.array(high, dtype=float)
            low[base] = high[base] = 1.0  # the fixed reference's own ratio is 1 by definition
            out[key], methods[key] = (low, high), KOOPMAN
    return out, methods


def bootstrap_intervals(
    boot: dict[str, np.ndarray], n_bootstrap: int, confidence: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Percentile intervals of every derived value, in one sort of all the resamples."""
    keys = list(boot)
    flat = [np.asarray(boot[k], dtype=np.float64).reshape(n_bootstrap, -1) for k in keys]
    low, high = quantile_interval(np.concatenate(flat, axis=1), confidence)
    out, start = {}, 0
    for key, block in zip(keys, flat, strict=True):
        stop = start + block.shape[1]
        shape = np.shape(boot[key])[1:]
        out[key] = (low[start:stop].reshape(shape), high[start:stop].reshape(shape))
        start = stop
    return out
