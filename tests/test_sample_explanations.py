"""SHAP values of the shipped sample models equal shap's own explainers on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

from audit.explain import explain_model
from audit.loaders import load_model
from tests.conftest import SAMPLES


def _by_original_column(model, values: np.ndarray) -> pd.DataFrame:
    """Sum shap's per-transformed-column values by the input column named in the output name."""
    pre = model[:-1]
    names = pre.get_feature_names_out()
    inputs = list(model.feature_names_in_)
    owner = []
    for name in names:
        bare = name.split("__", 1)[1]
        # the longest input column name that prefixes the output name (one-hot: "<col>_<value>")
        owner.append(max((c for c in inputs if bare == c or bare.startswith(c + "_")), key=len))
    return pd.DataFrame(values, columns=owner).T.groupby(level=0).sum().T[inputs]


@pytest.mark.parametrize(
    ("model_file", "make_explainer"),
    [
        ("adult-gbm.skops", lambda est, bg: shap.TreeExplainer(est)),
        (
            "adult-logreg.skops",
            lambda est, bg: shap.LinearExplainer(
                est, shap.maskers.Independent(bg, max_samples=len(bg))
            ),
        ),
    ],
)
def test_adult_sample_attributions_equal_shap(model_file: str, make_explainer) -> None:
    model = load_model(SAMPLES / "adult" / "models" / model_file).estimator
    data = pd.read_csv(SAMPLES / "adult" / "adult_test.csv", skipinitialspace=True)
    X = data[list(model.feature_names_in_)]
    ours = explain_model(
        model, X, positive_label=">50K", sample_size=300, background_size=200, seed=3
    )
    rows = X.iloc[ours.row_positions]
    transformed = np.asarray(model[:-1].transform(rows), dtype=float)
    background = None
    if ours.background_rows is not None:
        background = np.asarray(model[:-1].transform(X.iloc[ours.background_rows]), dtype=float)
    explainer = make_explainer(model[-1], background)
    values = np.asarray(explainer.shap_values(transformed))
    if values.ndim == 3:  # (rows, features, classes)
        values = values[:, :, 1]
    expected = _by_original_column(model, values)
    assert list(ours.feature_names) == list(expected.columns)
    np.testing.assert_allclose(ours.attributions, expected.to_numpy(), atol=1e-6)
    assert "sex" in ours.feature_names and not any(f.startswith("sex_") for f in ours.feature_names)
    assert ours.additivity.max_abs_error < 1e-6
