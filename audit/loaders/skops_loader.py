"""scikit-learn models in skops format, loaded with a fixed, reviewed allow-list of types.

skops refuses to construct any type not trusted; it trusts most scikit-learn estimators by
itself. Beyond those we trust only the types listed in :data:`TRUSTED_TYPES`, reviewed by hand:
they are plain data holders of fitted trees. We never trust whatever ``get_untrusted_types``
reports: a file naming anything else is refused, with the offending types named.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import InputError
from .interface import LoadedModel

#: Reviewed: numpy dtypes (data), fitted tree structures of scikit-learn (arrays of nodes).
TRUSTED_TYPES = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


class SkopsLoader:
    format = "skops"

    def detect(self, head: bytes, path: Path) -> bool:
        if not head.startswith(b"PK"):
            return False
        try:
            with zipfile.ZipFile(path) as zf:
                return "schema.json" in zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return False

    def load(self, path: Path, sha256: str) -> LoadedModel:
        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as exc:  # noqa: BLE001 - any parse failure of an untrusted file
            raise InputError(
                f"{path}: not a readable skops file ({type(exc).__name__}: {exc})",
                hint="re-export the model with skops.io.dump",
            ) from None
        refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if refused:
            raise InputError(
                f"{path}: the skops file names types outside audit's reviewed allow-list: "
                f"{', '.join(refused)}",
                hint="these types could run code when loaded; if they are genuinely safe, "
                "propose them for the allow-list in audit/loaders/skops_loader.py",
            )
        try:
            estimator = sio.load(path, trusted=list(TRUSTED_TYPES))
        except Exception as exc:  # noqa: BLE001
            raise InputError(
                f"{path}: the skops file could not be loaded ({type(exc).__name__}: {exc})",
                hint="the file may be truncated or corrupted; export it again",
            ) from None
        if not hasattr(estimator, "predict"):
            raise InputError(
                f"{path}: the loaded object ({type(estimator).__name__}) has no predict method",
                hint="save the fitted estimator or pipeline, not its parts",
            )
        return LoadedModel(estimator=estimator, format=self.format, sha256=sha256, path=path)
