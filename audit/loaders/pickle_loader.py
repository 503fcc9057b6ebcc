"""Pickle and joblib files: recognised without loading them, refused unless explicitly allowed.

Unpickling runs whatever code the file asks for (``os.system``, ``builtins.eval`` ...): a model
file in pickle form is a program. audit therefore refuses pickle and joblib files by default and
says what to use instead (skops for scikit-learn, the native formats of XGBoost and LightGBM,
ONNX). Recognising one never executes it: we read magic bytes, zip directories and pickle opcodes
(:func:`pickletools.genops`), nothing more.

The only way in is an explicit opt-in for one registered model whose sha256 is pinned by the
caller (``load_model(..., allow_pickle_digest=...)``). Even then the file is read by an
unpickler that resolves only types from an allow-list of model libraries (``find_class``); that
is a safety net, not a proof of safety, and the model is marked ``unsafe`` so the report's first
page shows the choice.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickletools
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

from ..errors import InputError
from .interface import LoadedModel

#: Compression formats joblib writes (``joblib.dump(..., compress=...)``); each holds a pickle.
COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
)

WHY_REFUSED = (
    "loading a pickle runs whatever code the file contains, so audit refuses pickle and "
    "joblib model files"
)
USE_INSTEAD = (
    "save scikit-learn models with skops.io.dump(model, 'model.skops'), XGBoost with "
    "booster.save_model('model.json' or '.ubj'), LightGBM with booster.save_model('model.txt'), "
    "or export to ONNX; a registered pickle can be allowed for its pinned digest with "
    "--allow-pickle SHA256"
)

#: Top-level modules whose classes a pickled model may reference when explicitly allowed.
ALLOWED_ROOTS = frozenset(
    {
        "sklearn",
        "numpy",
        "scipy",
        "pandas",
        "xgboost",
        "lightgbm",
        "joblib",
        "collections",
        "copyreg",
        "_codecs",
        "datetime",
    }
)
#: Plain data constructors from ``builtins`` (no getattr, eval, exec, __import__, open ...).
ALLOWED_BUILTINS = frozenset(
    {"set", "frozenset", "slice", "complex", "bytearray", "bytes", "dict", "list", "tuple"}
    | {"int", "float", "str", "bool", "object", "range"}
)
#: Functions inside the allowed libraries that read files, evaluate or import code.
_DENIED_PARTS = ("testing", "f2py", "distutils", "_pytest", "eval", "exec", "system", "popen")
_DENIED_PREFIXES = ("load", "read_", "import", "__import__", "getattr", "setattr", "open")


#: Errors reading a compressed or archived stream that is corrupt or truncated.
_STREAM_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    lzma.LZMAError,
    zipfile.BadZipFile,
)


def compression(head: bytes) -> str | None:
    """Which of joblib's compression formats the first bytes of a file show, or None."""
    # zlib: CMF 0x78 (deflate, 32K window) and a header checksum divisible by 31
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    for magic, name in COMPRESSED:
        if head.startswith(magic):
            return name
    return None


def pickle_kind(head: bytes, path: Path) -> str | None:
    """What pickle-based format ``path`` is (e.g. "a Python pickle"), or None; loads nothing."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"a Python pickle (protocol {head[1]}) or joblib file"
    compressed = compression(head)
    if compressed is not None:
        return f"a {compressed}-compressed file (joblib's compressed pickle format)"
    if head.startswith(b"PK"):
        inner = zip_pickle_member(path)
        if inner:
            return f"a zip archive holding the pickle {inner!r} (PyTorch .pt/.pth or similar)"
    if _looks_like_text_pickle(head, path):
        return "a Python pickle (text protocol)"
    return None


def zip_pickle_member(path: Path) -> str | None:
    """The first member of the zip at ``path`` that is a pickle (by name or content), or None."""
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename
                if name.endswith((".pkl", ".pickle", ".joblib", "data.pkl")):
                    return name
                if info.file_size and not info.is_dir():
                    with zf.open(info) as fh:
                        first = fh.read(2)
                    if len(first) == 2 and first[0] == 0x80 and 2 <= first[1] <= 5:
                        return name
    except _STREAM_ERRORS:
        return None
    return None


def _looks_like_text_pickle(head: bytes, path: Path) -> bool:
    """Protocol 0/1 pickles have no magic: parse opcodes (never execute) and look for imports."""
    if not head or head[:1] not in b"c(]}ilI":
        return False
    try:
        data = path.read_bytes()[:65536]
        for opcode, _arg, _pos in _genops(data):
            if opcode.name in ("GLOBAL", "INST", "STACK_GLOBAL", "REDUCE"):
                return True
    except ValueError:
        return False
    return False


def _pickle_bytes(path: Path, limit: int) -> bytes:
    """The first ``limit`` bytes of the pickle stream: the file, its pickle member if it is a
    zip archive (PyTorch style), or its decompressed content if joblib compressed it; a zip's or
    a compressed file's own bytes are not a pickle and must not be parsed as one."""
    if zipfile.is_zipfile(path):
        member = zip_pickle_member(path)
        if member is None:
            return b""
        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            return fh.read(limit)
    with path.open("rb") as raw, decompressed(raw) as fh:
        return fh.read(limit)


class _ZlibReader(io.RawIOBase):
    """The decompressed bytes of a zlib stream (``joblib.dump(..., compress=N)``), read lazily.

    At most 1 MiB is inflated per read, so a small hostile file cannot expand all at once.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj()
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._inflate.eof:
            data = self._inflate.unconsumed_tail or self._raw.read(1 << 16)
            if not data:
                raise EOFError("the zlib stream ends before its end marker (truncated)")
            self._buf = memoryview(self._inflate.decompress(data, 1 << 20))
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def decompressed(fh: IO[bytes]) -> IO[bytes] | io.BufferedIOBase:
    """``fh`` itself, or a reader of its decompressed bytes if it starts with the magic bytes of
    one of joblib's compression formats (zlib, gzip, bz2, xz, lzma; lz4 if ``lz4`` is installed).

    Reads the head and seeks back, so ``fh`` must be seekable; the caller closes ``fh``.
    """
    head = fh.read(8)
    fh.seek(0)
    kind = compression(head)
    if kind is None:
        return fh
    if kind == "zlib":
        return io.BufferedReader(_ZlibReader(fh))
    if kind == "gzip":
        return gzip.GzipFile(fileobj=fh, mode="rb")
    if kind == "bz2":
        return bz2.BZ2File(fh, "rb")
    if kind in ("xz", "lzma"):
        return lzma.LZMAFile(fh, "rb")
    try:
        import lz4.frame  # optional, as it is for joblib
    except ImportError:
        raise ValueError(
            "the file is lz4-compressed and the lz4 package is not installed"
        ) from None
    return lz4.frame.LZ4FrameFile(fh, "rb")


def _genops(data: bytes) -> Any:
    """``pickletools.genops`` over untrusted bytes, with its warnings silenced: decoding a
    protocol-0 string of arbitrary bytes can warn (``invalid escape sequence``), and a warning
    filter set to "error" (as in a test run) must not turn that into a crash."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield from pickletools.genops(io.BytesIO(data))


def referenced_globals(path: Path, limit: int = 8) -> list[str]:
    """Best effort, for messages: ``module.name`` the pickle would import (not executed)."""
    try:
        data = _pickle_bytes(path, 4 * 1024 * 1024)
    except _STREAM_ERRORS:
        return []
    found: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _pos in _genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str) and "UNICODE" in opcode.name:
                strings.append(arg)
            if len(found) >= limit:
                break
    except ValueError:
        pass  # joblib interleaves raw array bytes, and files may be truncated: keep what we have
    return list(dict.fromkeys(found))


def refusal(path: Path, kind: str) -> InputError:
    """The error for a pickle-based file loaded without the explicit opt-in."""
    names = referenced_globals(path) if "pickle" in kind or "joblib" in kind else []
    seen = f"; it references {', '.join(names)}" if names else ""
    return InputError(f"{path} is {kind}{seen}. {WHY_REFUSED}", hint=USE_INSTEAD)


def is_allowed_global(module: str, name: str) -> bool:
    """The allow-list used by :class:`GuardedUnpickler` (module roots, no code-running names)."""
    root = module.split(".", 1)[0]
    if module == "builtins":
        return name in ALLOWED_BUILTINS
    if root not in ALLOWED_ROOTS:
        return False
    dotted = f"{module}.{name}".lower()
    if any(part in dotted for part in _DENIED_PARTS):
        return False
    return not any(p.startswith(_DENIED_PREFIXES) for p in name.lower().split("."))


def _guarded_unpickler(fobj: Any, filename: str) -> Any:
    from joblib.numpy_pickle import NumpyUnpickler

    class GuardedUnpickler(NumpyUnpickler):
        """joblib's unpickler (plain pickles too), resolving only allow-listed globals."""

        def find_class(self, module: str, name: str) -> Any:
            if not is_allowed_global(module, name):
                raise InputError(
                    f"{filename}: the pickle references {module}.{name}, which is outside "
                    "audit's allow-list for pickled models (model libraries' classes only)",
                    hint="this file may run code when loaded; do not use it. " + USE_INSTEAD,
                )
            return super().find_class(module, name)

    return GuardedUnpickler(filename, fobj, "auto", mmap_mode=None)


def load_pickle(path: Path, sha256: str) -> LoadedModel:
    """Unpickle ``path`` (plain or joblib, compressed or not) with the guarded unpickler.

    Only call this after the caller has checked that ``sha256`` is the pinned digest of a
    registered model and that the file's digest equals it.
    """
    try:
        with path.open("rb") as raw, decompressed(raw) as fobj:
            estimator = _guarded_unpickler(fobj, str(path)).load()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a corrupt or hostile file
        raise InputError(
            f"{path}: the pickle could not be loaded ({type(exc).__name__}: {exc})",
            hint="the file may be truncated or corrupted; " + USE_INSTEAD,
        ) from None
    if not hasattr(estimator, "predict"):
        raise InputError(
            f"{path}: the unpickled object ({type(estimator).__name__}) has no predict method",
            hint="pickle the fitted estimator or pipeline",
        )
    return LoadedModel(estimator, "pickle", sha256, path, unsafe=True)
