"""Proxies of sensitive features: what the model's inputs reveal about attributes it is not given.

A *proxy* is a model input strongly associated with a sensitive attribute, so that the model can
rely on the attribute without taking it as input (``is_black`` is a copy of ``race == "Black"``;
``relationship = Husband`` says ``sex = Male``). Proxies are looked for whether or not the
sensitive features are model inputs: that they are *not* is the usual case, and the one that
matters. A sensitive feature that is itself a model input is *direct use*
(:attr:`~audit.explain.explanation.Explanation.direct_use`), not a proxy: it is skipped here, both
as a candidate proxy and as an input of the proxy models.

Two views, on every row of the audited data:

* **pairwise association** of every model input ``x`` with every sensitive feature ``s``, on
  category codes (numeric columns with more than ``bins`` values cut into quantile bins, a value
  holding at least 1/``bins`` of the rows its own bin, missing values their own category):

  - Cramér's V, ``V = sqrt( chi2 / (n * (min(r, c) - 1)) )`` from the r x c contingency table;
    0 = independent, 1 = one determines the other (``x`` is a *strong proxy* when
    ``V >= proxy_threshold``);
  - mutual information ``I(x; s) = sum_ij p_ij log(p_ij / (p_i. p_.j))`` in nats
    (:func:`sklearn.metrics.mutual_info_score`), and normalized mutual information
    ``NMI = I / ((H(x) + H(s)) / 2)`` (:func:`sklearn.metrics.normalized_mutual_info_score`,
    arithmetic normalization); 0 = independent, 1 = each determines the other.

* **proxy model**: how well all model inputs *jointly* predict ``s`` -- several weak proxies can
  add up to a strong one. A gradient-boosted tree classifier
  (:class:`sklearn.ensemble.HistGradientBoostingClassifier`, native categorical splits, seeded
  early stopping) predicts ``s`` from the non-sensitive inputs; its ROC AUC is the mean over
  ``folds`` stratified folds (shuffled with the seed) of the held-out fold's AUC (binary:
  ``P(score of a random member > score of a random non-member)``; more classes: the unweighted
  mean of the one-vs-rest AUCs). 0.5 = the inputs say nothing about ``s``, 1 = they determine it.
  Rows with a missing ``s`` are dropped; a class with fewer rows than folds is left out (with a
  note), as no stratified split could test it; more than ``max_rows`` rows are subsampled,
  seeded and stratified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.explain.interface import few_threads

#: Default Cramér's V at or above which an input column counts as a proxy.
PROXY_THRESHOLD = 0.3
#: Default proxy-model AUC at or above which a sensitive feature counts as predictable.
PROXY_AUC_THRESHOLD = 0.75
#: Quantile bins for numeric columns in the association measures.
BINS = 10
#: Cross-validation folds of the proxy models.
FOLDS = 5
#: Rows the proxy models are fitted on at most (a seeded stratified subsample beyond).
MAX_ROWS = 20_000
#: Categories a proxy model's categorical input keeps (the estimator's limit is 255 bins; the
#: rarest categories beyond share the last code).
_MAX_CATEGORIES = 255


@dataclass(frozen=True)
class Association:
    """Association of model input column ``feature`` with ``sensitive_feature``: Cramér's V,
    mutual information (nats) and normalized mutual information (see the module docstring)."""

    feature: str
    sensitive_feature: str
    cramers_v: float
    mutual_information: float = 0.0
    normalized_mutual_information: float = 0.0


def codes(column: pd.Series, bins: int = BINS) -> np.ndarray:
    """Category codes; numeric columns with many values cut into quantile bins; NaN its own.

    A value that alone holds at least 1/bins of the rows (the zeros of ``capital_gain``) is its
    own bin; the other values are cut into quantile bins, so a spike does not swallow them all.
    """
    if pd.api.types.is_numeric_dtype(column) and column.nunique(dropna=True) > bins:
        column = column.reset_index(drop=True)
        frequency = column.value_counts(normalize=True)
        heavy = frequency.index[frequency >= 1.0 / bins]
        binned = pd.Series(pd.NA, index=column.index, dtype=object)
        is_heavy = column.isin(heavy)
        binned[is_heavy] = "=" + column[is_heavy].astype(str)
        rest = column[~is_heavy & column.notna()]
        if len(rest):
            q = max(1, bins - len(heavy))
            binned[rest.index] = pd.qcut(rest, q=q, duplicates="drop").astype(str).to_numpy()
        column = binned
    found, _ = pd.factorize(column, use_na_sentinel=False)
    return np.asarray(found)


def _cramers_v_of_codes(x: np.ndarray, y: np.ndarray) -> float:
    r, c = int(x.max()) + 1, int(y.max()) + 1
    if min(r, c) < 2:
        return 0.0
    observed = np.bincount(x * c + y, minlength=r * c).reshape(r, c).astype(float)
    n = observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(expected > 0, (observed - expected) ** 2 / expected, 0.0).sum()
    return float(np.sqrt(chi2 / (n * (min(r, c) - 1))))


def cramers_v(a: pd.Series, b: pd.Series, *, bins: int = BINS) -> float:
    """Cramér's V of two columns (see the module docstring); 0 if either is constant."""
    return _cramers_v_of_codes(codes(a, bins), codes(b, bins))


def _mutual_information_of_codes(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

    if x.max() < 1 or y.max() < 1:
        return 0.0, 0.0
    return float(mutual_info_score(x, y)), float(normalized_mutual_info_score(x, y))


def mutual_information(a: pd.Series, b: pd.Series, *, bins: int = BINS) -> tuple[float, float]:
    """(mutual information in nats, normalized mutual information) of two columns, on the same
    codes as :func:`cramers_v`; (0, 0) if either is constant."""
    return _mutual_information_of_codes(codes(a, bins), codes(b, bins))


def associations(
    features: pd.DataFrame, sensitive: pd.DataFrame, *, bins: int = BINS
) -> tuple[Association, ...]:
    """Association of every model input column with every sensitive column, by decreasing
    Cramér's V (ties in column order).

    A column that is itself sensitive is skipped (it is not a proxy, it is the attribute).
    """
    found = []
    for s in sensitive.columns:
        y = codes(sensitive[s], bins)
        for f in features.columns:
            if f in sensitive.columns:
                continue
            x = codes(features[f], bins)
            mi, nmi = _mutual_information_of_codes(x, y)
            found.append(Association(str(f), str(s), _cramers_v_of_codes(x, y), mi, nmi))
    return tuple(sorted(found, key=lambda a: -a.cramers_v))


@dataclass(frozen=True)
class ProxyModel:
    """How well the model's non-sensitive inputs jointly predict ``sensitive_feature``.

    ``auc`` is the mean held-out ROC AUC over ``folds`` stratified folds (``fold_aucs``), of a
    classifier fitted on ``rows`` rows with the classes ``classes`` (macro one-vs-rest AUC for
    more than two); None when it could not be computed, with the reason in ``note``. ``inputs``
    are the columns it was given.
    """

    sensitive_feature: str
    auc: float | None
    fold_aucs: tuple[float, ...]
    folds: int
    rows: int
    classes: tuple[str, ...]
    inputs: tuple[str, ...]
    method: str
    note: str | None = None

    def predictable(self, threshold: float) -> bool:
        """The inputs predict the attribute with an AUC of at least ``threshold``."""
        return self.auc is not None and self.auc >= threshold


def _method(folds: int, multiclass: bool) -> str:
    auc = "macro one-vs-rest ROC AUC" if multiclass else "ROC AUC"
    return f"HistGradientBoostingClassifier, {auc}, {folds}-fold stratified cross-validation"


def _model_matrix(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(float matrix, categorical mask): numeric and boolean columns as numbers; any other
    column as the codes of its values (as text) in sorted order, as pandas orders a category
    dtype's categories, missing as NaN. A column with more than 255 values keeps the 254 most
    frequent (ties by value) and codes the rest together as 254, the estimator's limit."""
    columns = []
    mask = []
    for name in features.columns:
        column = features[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            columns.append(column.astype(float).to_numpy(float, na_value=np.nan))
            mask.append(False)
            continue
        present = column.notna().to_numpy()
        text = column[present].astype(str)
        counts = text.value_counts()
        if len(counts) > _MAX_CATEGORIES:
            by_frequency = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            kept = sorted(value for value, _ in by_frequency[: _MAX_CATEGORIES - 1])
        else:
            kept = sorted(counts.index)
        lookup = {value: float(i) for i, value in enumerate(kept)}
        coded = np.full(len(column), np.nan)
        coded[present] = text.map(lookup).fillna(float(_MAX_CATEGORIES - 1)).to_numpy(float)
        columns.append(coded)
        mask.append(True)
    matrix = np.column_stack(columns) if columns else np.empty((len(features), 0))
    return matrix, np.asarray(mask, dtype=bool)


def _stratified_subsample(labels: np.ndarray, max_rows: int, floor: int, seed: int) -> np.ndarray:
    """Sorted positions of a stratified subsample of about ``max_rows`` rows: class c of n_c rows
    keeps ``max(ceil(n_c * max_rows / n), min(n_c, floor))`` of them, drawn without replacement
    with ``numpy.random.default_rng(seed)`` (classes in sorted order)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    chosen = []
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        keep = max(math.ceil(len(members) * max_rows / n), min(len(members), floor))
        chosen.append(rng.choice(members, size=min(keep, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def proxy_model(
    features: pd.DataFrame,
    sensitive: pd.Series,
    *,
    folds: int = FOLDS,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> ProxyModel:
    """Cross-validated AUC of predicting ``sensitive`` from all columns of ``features`` jointly
    (see the module docstring). ``features`` and ``sensitive`` hold the same rows in order."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_validate

    name = str(sensitive.name)
    inputs = tuple(str(c) for c in features.columns)
    present = sensitive.notna().to_numpy()
    labels = sensitive[present].astype(str).to_numpy()
    notes = []
    if (~present).any():
        notes.append(f"{int((~present).sum())} rows with a missing {name} left out")
    values, counts = np.unique(labels, return_counts=True)
    rare = [f"{v} ({c} rows)" for v, c in zip(values, counts, strict=True) if c < folds]
    if rare:
        notes.append(f"classes with fewer than {folds} rows left out: {', '.join(rare)}")
    kept_classes = [str(v) for v, c in zip(values, counts, strict=True) if c >= folds]
    keep = np.isin(labels, kept_classes)
    positions = np.flatnonzero(present)[keep]
    labels = labels[keep]

    def unavailable(reason: str) -> ProxyModel:
        return ProxyModel(
            name,
            None,
            (),
            folds,
            len(labels),
            tuple(kept_classes),
            inputs,
            _method(folds, len(kept_classes) > 2),
            "; ".join([*notes, reason]),
        )

    if not inputs:
        return unavailable("the model has no input besides the sensitive features")
    if len(kept_classes) < 2:
        return unavailable(f"fewer than two classes of {name} with at least {folds} rows each")
    if len(labels) > max_rows:
        sub = _stratified_subsample(labels, max_rows, folds, seed)
        notes.append(f"a stratified sample of {len(sub)} of {len(labels)} rows (seed {seed})")
        positions, labels = positions[sub], labels[sub]
    X, categorical = _model_matrix(features.iloc[positions])
    classifier = HistGradientBoostingClassifier(
        categorical_features=categorical if categorical.any() else None,
        max_iter=100,
        early_stopping=True,
        random_state=seed,
    )
    multiclass = len(kept_classes) > 2
    with few_threads():  # one OpenMP thread: many times faster than two on a busy machine
        scores = cross_validate(
            classifier,
            X,
            labels,
            cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
            scoring="roc_auc_ovr" if multiclass else "roc_auc",
            error_score="raise",
        )["test_score"]
    return ProxyModel(
        name,
        float(np.mean(scores)),
        tuple(float(s) for s in scores),
        folds,
        len(labels),
        tuple(kept_classes),
        inputs,
        _method(folds, multiclass),
        "; ".join(notes) or None,
    )


def proxy_models(
    features: pd.DataFrame,
    sensitive: pd.DataFrame,
    *,
    folds: int = FOLDS,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> tuple[ProxyModel, ...]:
    """One :func:`proxy_model` per sensitive column, fitted on the input columns that are not
    sensitive (a sensitive input is direct use, and would predict itself)."""
    inputs = features.loc[:, [c for c in features.columns if c not in sensitive.columns]]
    inputs = inputs.reset_index(drop=True)
    return tuple(
        proxy_model(
            inputs,
            sensitive[s].reset_index(drop=True),
            folds=folds,
            max_rows=max_rows,
            seed=seed,
        )
        for s in sensitive.columns
    )
