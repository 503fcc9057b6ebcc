"""XGBoost contributions on a CUDA device, when there is one (never required).

``xgboost_cuda()`` is cheap and imports nothing heavy when no CUDA device is visible: it looks
for the NVIDIA driver's device files first and asks XGBoost's ``build_info()`` only then.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

#: Rows of every GPU result checked against the CPU kernels, and the agreement required
#: (float32 arithmetic on the device).
CHECK_ROWS = 256
CHECK_TOLERANCE = 1e-5


def cuda_visible() -> bool:
    """Whether a CUDA device is visible to this process (driver files; CUDA_VISIBLE_DEVICES)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    try:
        if gpus.is_dir() and any(gpus.iterdir()):
            return True
    except OSError:
        pass
    return Path("/dev/nvidia0").exists()


def xgboost_cuda() -> bool:
    """A CUDA device is visible and XGBoost was built with CUDA."""
    if not cuda_visible():
        return False
    try:
        import xgboost

        return bool(xgboost.build_info().get("USE_CUDA"))
    except Exception:  # noqa: BLE001 - no usable XGBoost means no GPU path
        return False


def xgboost_contributions(booster: Any, X: np.ndarray) -> np.ndarray:
    """``pred_contribs`` (bias column dropped) of a copy of ``booster`` on ``device="cuda"``."""
    import xgboost

    device = booster.copy()
    device.set_param({"device": "cuda"})
    contribs = device.predict(
        xgboost.DMatrix(X, missing=np.nan), pred_contribs=True, validate_features=False
    )
    return np.asarray(contribs, dtype=np.float64)[:, :-1]


def check_rows(n: int, seed: int) -> np.ndarray:
    """The seeded subset of rows a GPU result is checked on."""
    rng = np.random.default_rng([seed, 18])
    return np.sort(rng.choice(n, size=min(n, CHECK_ROWS), replace=False))
