"""Parse an untrusted model file in a child process before parsing it in this one.

XGBoost's UBJSON parser, LightGBM's text parser and onnxruntime's graph loader are C++ code: a
corrupted or hostile file can crash the process (a segmentation fault, an abort) where no Python
exception handler can catch it, and the audit would die without a message or a log entry. So
each of those loaders first parses the file in a short-lived child interpreter; if the child
crashes, fails or hangs, the audit stops with a clear InputError (exit 2) naming the file, and the
file is never parsed in the audit's own process. The price is one extra parse and library import
(about a second).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..errors import InputError

#: Seconds a child may take to parse a model before the file is refused.
TIMEOUT = 120

#: Child programs: parse ``sys.argv[1]`` with the library's own loader, exit 0 if that worked.
PROBES = {
    "XGBoost UBJSON": (
        "import sys, xgboost\n"
        "b = xgboost.Booster()\n"
        "b.load_model(bytearray(open(sys.argv[1], 'rb').read()))\n"
    ),
    "LightGBM": (
        "import sys, lightgbm\n"
        "lightgbm.Booster(model_str=open(sys.argv[1], encoding='utf-8').read())\n"
    ),
    "onnxruntime": (
        "import sys, onnxruntime\n"
        "o = onnxruntime.SessionOptions()\n"
        "o.log_severity_level = 4\n"
        "onnxruntime.InferenceSession(sys.argv[1], sess_options=o,"
        " providers=['CPUExecutionProvider'])\n"
    ),
}


def probe(parser: str, path: Path, *, hint: str) -> None:
    """Parse ``path`` with ``parser`` (a key of :data:`PROBES`) in a child process.

    Returns when the child parsed the file; raises InputError when it crashed (killed by a
    signal), failed (an exception, whose last line is quoted) or did not finish within
    :data:`TIMEOUT` seconds. A file the child could not parse is never parsed in this process:
    the same bytes that raise an error in one process can crash another (seen with XGBoost's
    UBJSON parser, whose out-of-bounds reads end in an exception or a segmentation fault
    depending on what lies in memory).
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBES[parser], str(path)],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InputError(
            f"{path}: the {parser} parser did not finish reading the file in {TIMEOUT} s",
            hint=hint,
        ) from None
    if done.returncode < 0 or done.returncode > 1:
        # negative: killed by a signal (SIGSEGV, SIGABRT); > 1: the runtime aborted the process
        raise InputError(
            f"{path}: not a loadable model (the {parser} parser crashed on it)", hint=hint
        )
    if done.returncode == 1:
        lines = [ln for ln in done.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        detail = " ".join((lines[-1] if lines else "no message").split())[:300]
        raise InputError(f"{path}: not a loadable model ({parser}: {detail})", hint=hint)
