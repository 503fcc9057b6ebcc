"""scikit-learn models in skops format, loaded with a fixed, reviewed allow-list of types.

skops refuses to construct any type not trusted; it trusts most scikit-learn estimators by
itself. Beyond those we trust only the types listed in :data:`TRUSTED_TYPES`, reviewed by hand:
they are plain data holders of fitted trees. We never trust whatever ``get_untrusted_types``
reports: a file naming anything else is refused, with the offending types named.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .interface import LoadedModel

#: Reviewed: numpy dtypes (data), fitted tree structures of scikit-learn (arrays of nodes).
TRUSTED_TYPES = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


@dataclass(frozen=True)
class ZipLimits:
    """What a skops archive may expand to before audit lets skops open it.

    Real models are far below: the shipped samples hold at most 700 members, 3 MB in all, and
    compress at most 50:1. Python's zipfile stops each member at its declared size (and fails
    its CRC check past it), so the declared sizes checked here bound what skops can inflate.
    """

    members: int = 10_000
    member_bytes: int = 1 << 30
    total_bytes: int = 2 << 30
    #: A larger member compressed more than this is a zip bomb, not a model.
    ratio: float = 200.0
    ratio_from_bytes: int = 1 << 20


def check_archive(path: Path, limits: ZipLimits = ZipLimits()) -> None:
    """Refuse a zip whose member count, sizes or compression ratio exceed ``limits``."""
    hint = "this is not a model skops.io.dump wrote; export the model again"
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc})", hint=hint) from None
    if len(members) > limits.members:
        raise InputError(
            f"{path}: the skops archive has {len(members)} members; audit reads at most "
            f"{limits.members}",
            hint=hint,
        )
    total = 0
    for m in members:
        if m.file_size > limits.member_bytes:
            raise InputError(
                f"{path}: member {m.filename!r} expands to {m.file_size} bytes; audit reads at "
                f"most {limits.member_bytes} per member",
                hint=hint,
            )
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > limits.ratio_from_bytes and ratio > limits.ratio:
            raise InputError(
                f"{path}: member {m.filename!r} is compressed {ratio:.0f}:1 (a zip bomb?); "
                f"audit refuses more than {limits.ratio:.0f}:1",
                hint=hint,
            )
        total += m.file_size
        if total > limits.total_bytes:
            raise InputError(
                f"{path}: the skops archive expands to more than {limits.total_bytes} bytes "
                f"(at member {m.filename!r})",
                hint=hint,
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

        check_archive(path)
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
