"""Explaining an opaque model (an endpoint): input columns as numbers, and back.

Permutation SHAP (:mod:`audit.explain.permutation`) works on a float matrix: it builds hybrid
rows by taking each column from the explained row or from a background row. An endpoint model
takes the dataset's own columns (text categories included) and nothing of its inside is
visible, so there is no preprocessing to split off. :class:`CodedInputs` stands in for one:
numeric columns pass through, every other column becomes the code of its value among the
column's distinct values (in order of first appearance in the explained data, so the coding is
the same on every run). :class:`DecodingModel` turns hybrid rows of codes back into a DataFrame
of the original values and dtypes and asks the endpoint. Since a hybrid row only ever holds
values some real row had, every row sent is a plausible input, and the values are per input
column, exactly as for a pipeline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.explain.interface import ExplanationUnavailable


def _numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
    )


class CodedInputs:
    """Numeric columns as they are, others as codes into their distinct values (missing: NaN)."""

    #: the coded columns are the input columns themselves: the feature map is the identity
    identity = True

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = {c: frame[c].dtype for c in self.columns}
        self.categories: dict[Any, np.ndarray | None] = {}
        for c in self.columns:
            s = frame[c]
            self.categories[c] = None if _numeric(s) else np.asarray(pd.unique(s.dropna()), object)

    def transform(self, rows: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(rows), len(self.columns)), dtype=float)
        for j, c in enumerate(self.columns):
            cats = self.categories[c]
            s = rows[c]
            if cats is None:
                out[:, j] = pd.to_numeric(s, errors="coerce").to_numpy(float, na_value=np.nan)
                continue
            codes = pd.Categorical(s, categories=pd.Index(cats, dtype=object)).codes
            unknown = (codes < 0) & s.notna().to_numpy()
            if unknown.any():
                raise ExplanationUnavailable(
                    f"column {c!r} holds a value the explained data did not ({s[unknown].iloc[0]!r})"
                )
            out[:, j] = np.where(codes < 0, np.nan, codes)
        return out

    def decode(self, dense: np.ndarray) -> pd.DataFrame:
        """Coded rows back to a frame of the original values and dtypes."""
        dense = np.asarray(dense, dtype=float)
        columns: dict[Any, pd.Series] = {}
        for j, c in enumerate(self.columns):
            cats, values = self.categories[c], dense[:, j]
            if cats is None:
                series = pd.Series(values)
            else:
                missing = np.isnan(values)
                picked = cats[np.where(missing, 0, values).astype(np.intp)] if len(cats) else values
                cells = np.asarray(picked, dtype=object)
                cells[missing] = None
                series = pd.Series(cells, dtype=object)
            try:
                columns[c] = series.astype(self.dtypes[c])
            except (ValueError, TypeError):
                columns[c] = series  # e.g. NaN in an int column: leave as is
        return pd.DataFrame(columns)


class DecodingModel:
    """The opaque model seen through :class:`CodedInputs`: it takes coded rows."""

    def __init__(self, model: Any, coded: CodedInputs) -> None:
        self.model = model
        self.coded = coded
        if hasattr(model, "classes_"):
            self.classes_ = model.classes_

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.model.predict(self.coded.decode(X)))

    def __getattr__(self, name: str) -> Any:
        if name in ("predict_proba", "decision_function"):
            method = getattr(self.model, name)  # AttributeError when the model has none
            return lambda X: method(self.coded.decode(X))
        raise AttributeError(name)


def split_opaque(model: Any, X: pd.DataFrame, columns: tuple[str, ...]) -> tuple[Any, Any]:
    """(estimator on coded rows, the coding) for an opaque model explained on ``X``."""
    coded = CodedInputs(X.loc[:, list(columns)])
    return DecodingModel(model, coded), coded
