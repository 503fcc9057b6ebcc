"""Map the columns a pipeline feeds its final estimator back to the model's input columns.

SHAP explains the final estimator, whose inputs are the *transformed* columns (``sex_Female``,
``sex_Male``, ``num__age`` ...). An auditor asks about the dataset's columns (``sex``, ``age``).
Because SHAP values are additive, the attribution of an original column is the sum of the
attributions of the transformed columns derived from it alone:

    phi(original j) = sum over transformed columns k with owner(k) = j of phi(k)

This is exact only when every transformed column depends on a single original column. The mapping
is therefore built from an allow-list of transformers known to work column by column; anything
else (PCA, PolynomialFeatures, Normalizer, ...) raises ``ExplanationUnavailable`` naming it, rather
than silently spreading attributions over columns they do not belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.errors import InputError
from audit.explain.interface import Attribution, ExplanationUnavailable, ModelRows

# Transformers that turn input column j into output column j and nothing else, element by element.
# (Normalizer keeps the width too, but divides each row by its norm: it mixes columns.)
_ONE_TO_ONE_NAMES = (
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "QuantileTransformer",
    "PowerTransformer",
    "Binarizer",
    "OrdinalEncoder",
    "TargetEncoder",
)


@dataclass(frozen=True, eq=False)
class FeatureMap:
    """Which original input column each transformed column was derived from.

    ``owner[k]`` is the index into ``original_names`` of the column that transformed column ``k``
    comes from. ``transformed_names`` are the preprocessing's own output names where it offers
    them (``get_feature_names_out``), for display and cross-checks.
    """

    original_names: tuple[str, ...]
    owner: np.ndarray
    transformed_names: tuple[str, ...] | None = None

    @property
    def transformed_width(self) -> int:
        return int(self.owner.shape[0])

    def aggregate(self, values: np.ndarray) -> np.ndarray:
        """Sum a (rows x transformed columns) matrix into (rows x original columns)."""
        if values.shape[1] != self.transformed_width:
            raise ValueError(
                f"attribution matrix has {values.shape[1]} columns, the feature map "
                f"{self.transformed_width}"
            )
        # Column by column, in transformed order: each row's sums are the same however many rows
        # are aggregated at once (a matrix product's blocking changes the last digits).
        out = np.zeros((values.shape[0], len(self.original_names)))
        for k, j in enumerate(self.owner.tolist()):
            out[:, j] += values[:, k]
        return out


def identity_map(names: Sequence[str]) -> FeatureMap:
    """The map of a bare estimator: every input column is its own transformed column."""
    return FeatureMap(tuple(names), np.arange(len(names)), tuple(names))


def map_features(
    preprocessor: Any, input_names: Sequence[str], transformed_width: int
) -> FeatureMap:
    """Build the map for fitted ``preprocessor`` (``model[:-1]``) fed columns ``input_names``.

    ``transformed_width`` is the width ``preprocessor.transform`` actually produced; the map must
    account for exactly that many columns, or the explanation is refused.
    """
    owners = _map(preprocessor, list(range(len(input_names))), label="preprocessing")
    if len(owners) != transformed_width:
        raise ExplanationUnavailable(
            f"the preprocessing produced {transformed_width} columns but the feature map accounts "
            f"for {len(owners)}; cannot attribute SHAP values to input columns"
        )
    out_names = _names_out(preprocessor)
    if out_names is not None and len(out_names) != transformed_width:
        raise ExplanationUnavailable(
            f"get_feature_names_out of the preprocessing names {len(out_names)} columns but "
            f"transform produced {transformed_width}"
        )
    return FeatureMap(tuple(input_names), np.asarray(owners, dtype=np.intp), out_names)


def _names_out(transformer: Any) -> tuple[str, ...] | None:
    try:
        return tuple(str(n) for n in transformer.get_feature_names_out())
    except (AttributeError, ValueError, TypeError, NotImplementedError):
        return None


def _describe(transformer: Any) -> str:
    return transformer if isinstance(transformer, str) else type(transformer).__name__


def _map(transformer: Any, in_owners: list[int], *, label: str) -> list[int]:
    """Owners of ``transformer``'s output columns, given the owners of its input columns."""
    from sklearn import preprocessing
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, OneHotEncoder

    if transformer is None or (isinstance(transformer, str) and transformer == "passthrough"):
        return list(in_owners)
    if isinstance(transformer, str) and transformer == "drop":
        return []
    if isinstance(transformer, Pipeline):
        owners = list(in_owners)
        for name, step in transformer.steps:
            owners = _map(step, owners, label=f"{label} step {name!r}")
        return owners
    if isinstance(transformer, ColumnTransformer):
        return _map_column_transformer(transformer, in_owners, label=label)
    if isinstance(transformer, OneHotEncoder):
        return _map_one_hot(transformer, in_owners, label=label)
    if isinstance(transformer, SimpleImputer):
        return _map_imputer(transformer, in_owners, label=label)
    if isinstance(transformer, KBinsDiscretizer):
        if transformer.encode == "ordinal":
            return _one_to_one(transformer, in_owners, label=label)
        widths = [int(n) for n in transformer.n_bins_]
        return _expand(in_owners, widths, transformer, label=label)
    if isinstance(transformer, FunctionTransformer):
        # A FunctionTransformer is column-wise only if it is the identity (how ColumnTransformer
        # stores "passthrough") or its author declared feature_names_out="one-to-one".
        if transformer.func is None or transformer.feature_names_out == "one-to-one":
            return _one_to_one(transformer, in_owners, label=label)
        raise _unmappable(transformer, label, "its function may mix columns")
    one_to_one = tuple(getattr(preprocessing, name) for name in _ONE_TO_ONE_NAMES)
    if isinstance(transformer, one_to_one):
        return _one_to_one(transformer, in_owners, label=label)
    raise _unmappable(transformer, label, "it is not known to transform column by column")


def _unmappable(transformer: Any, label: str, why: str) -> ExplanationUnavailable:
    return ExplanationUnavailable(
        f"cannot map the output columns of {_describe(transformer)} ({label}) back to input "
        f"columns: {why}"
    )


def _one_to_one(transformer: Any, in_owners: list[int], *, label: str) -> list[int]:
    width = getattr(transformer, "n_features_in_", len(in_owners))
    names = _names_out(transformer)
    if width != len(in_owners) or (names is not None and len(names) != len(in_owners)):
        raise _unmappable(
            transformer, label, f"expected {len(in_owners)} columns in and out, got {width}"
        )
    return list(in_owners)


def _expand(in_owners: list[int], widths: list[int], transformer: Any, *, label: str) -> list[int]:
    if len(widths) != len(in_owners):
        raise _unmappable(
            transformer, label, f"it was fitted on {len(widths)} columns, given {len(in_owners)}"
        )
    return [owner for owner, width in zip(in_owners, widths, strict=True) for _ in range(width)]


def _map_one_hot(ohe: Any, in_owners: list[int], *, label: str) -> list[int]:
    """One output column per kept category: all categories, infrequent ones merged, minus drop."""
    infrequent = getattr(ohe, "infrequent_categories_", None)
    widths = []
    for i, categories in enumerate(ohe.categories_):
        width = len(categories)
        if infrequent is not None and infrequent[i] is not None:
            width = width - len(infrequent[i]) + 1
        if ohe.drop_idx_ is not None and ohe.drop_idx_[i] is not None:
            width -= 1
        widths.append(width)
    names = _names_out(ohe)
    if names is not None:
        if len(names) != sum(widths):
            raise _unmappable(
                ohe, label, f"{len(names)} output names but {sum(widths)} kept categories"
            )
        if ohe.feature_name_combiner == "concat":
            # Independent check of the block boundaries: block i's names start with input name i.
            fitted_on = getattr(ohe, "feature_names_in_", None)
            if fitted_on is None:
                fitted_on = [f"x{i}" for i in range(len(ohe.categories_))]
            inputs = [str(n) for n in fitted_on]
            start = 0
            for name, width in zip(inputs, widths, strict=True):
                block = names[start : start + width]
                if not all(n.startswith(f"{name}_") for n in block):
                    raise _unmappable(ohe, label, f"output names do not match input {name!r}")
                start += width
    return _expand(in_owners, widths, ohe, label=label)


def _map_imputer(imputer: Any, in_owners: list[int], *, label: str) -> list[int]:
    """Imputed columns (all-missing ones dropped unless kept), then one indicator per flagged."""
    stats = np.asarray(imputer.statistics_)
    if imputer.keep_empty_features or imputer.strategy == "constant":
        kept = list(range(len(in_owners)))
    else:
        kept = [i for i, s in enumerate(stats) if not (isinstance(s, float) and np.isnan(s))]
    owners = [in_owners[i] for i in kept]
    if imputer.add_indicator:
        owners += [in_owners[int(i)] for i in imputer.indicator_.features_]
    names = _names_out(imputer)
    if names is not None and len(names) != len(owners):
        raise _unmappable(imputer, label, f"{len(names)} output names, {len(owners)} mapped")
    return owners


def _map_column_transformer(ct: Any, in_owners: list[int], *, label: str) -> list[int]:
    names_in = [str(n) for n in getattr(ct, "feature_names_in_", [])]
    owners: list[int] = []
    for name, transformer, columns in ct.transformers_:
        positions = _resolve_columns(columns, names_in, len(in_owners), ct_name=name)
        if not positions or (isinstance(transformer, str) and transformer == "drop"):
            continue  # ColumnTransformer emits nothing for dropped or empty selections
        owners += _map(
            transformer, [in_owners[p] for p in positions], label=f"transformer {name!r}"
        )
    return owners


def _resolve_columns(columns: Any, names: list[str], width: int, *, ct_name: str) -> list[int]:
    """Positions selected by a fitted ColumnTransformer column spec (names, ints, slice, mask)."""
    if isinstance(columns, str | int | np.integer):
        columns = [columns]
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            start = names.index(columns.start) if columns.start is not None else 0
            stop = names.index(columns.stop) + 1 if columns.stop is not None else width
            return list(range(start, stop))  # label slices include their end
        return list(range(width))[columns]
    selected = list(np.asarray(columns).ravel()) if not isinstance(columns, list) else columns
    if not selected:
        return []
    arr = np.asarray(selected)
    if arr.dtype == bool:
        return [int(i) for i in np.flatnonzero(arr)]
    if np.issubdtype(arr.dtype, np.integer):
        return [int(i) % width for i in arr]
    position = {n: i for i, n in enumerate(names)}
    try:
        return [position[str(c)] for c in selected]
    except KeyError as exc:
        raise ExplanationUnavailable(
            f"ColumnTransformer entry {ct_name!r} selects column {exc.args[0]!r}, which is not "
            "among the columns it was fitted on"
        ) from None


def per_input(values: np.ndarray, attribution: Attribution, feature_map: FeatureMap) -> np.ndarray:
    """Attributions per input column (summed back from transformed columns if need be)."""
    return values if attribution.per_input_column else feature_map.aggregate(values)


def transform_rows(preprocessor: Any | None, rows: pd.DataFrame) -> ModelRows:
    """Rows as the final estimator sees them, plus a dense float64 copy for SHAP."""
    from scipy import sparse

    if preprocessor is None:
        native: Any = rows
    else:
        try:
            native = preprocessor.transform(rows)
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(
                f"the model's preprocessing rejected the dataset: {exc}",
                hint="check the dataset's column types and categories against the training data",
            ) from exc
    dense = native.toarray() if sparse.issparse(native) else native
    try:
        dense = np.asarray(dense.to_numpy() if isinstance(dense, pd.DataFrame) else dense, float)
    except (ValueError, TypeError) as exc:
        raise ExplanationUnavailable(
            f"the final estimator receives non-numeric columns ({exc}); SHAP needs numbers"
        ) from exc
    return ModelRows(dense=dense, native=native)
