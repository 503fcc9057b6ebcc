"""Benchmark: reasons for every adverse decision of a 1M-row audit (``explain.rows: adverse``).

Builds (seeded, kept in ``--keep``) a CSV of ``--rows`` applicants resampled from the Adult test
split, then runs ``audit run`` on it as a user would (a fresh interpreter, the sample HGB model
and reason codes, ``--engine`` stream by default) and prints the stage times, the adverse
decisions given reasons, and the reasons pass's rows/s. Target (issue #18): the reasons of every
adverse decision of a 1M-row audit in under 2 minutes on this 2-core machine.

Run from the repository root:  python benchmarks/bench_adverse.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "samples/adult"


def dataset(folder: Path, rows: int, seed: int = 7) -> Path:
    path = folder / f"adult-{rows}.csv"
    if not path.exists():
        base = pd.read_csv(ADULT / "adult_test.csv")
        picks = np.random.default_rng(seed).integers(0, len(base), size=rows)
        frame = base.iloc[picks].reset_index(drop=True)
        frame.insert(0, "applicant_id", [f"A{i:07d}" for i in range(rows)])
        frame.to_csv(path, index=False)
    return path


def spec(folder: Path, data: Path, engine: str) -> Path:
    doc = {
        "name": "adult-adverse",
        "model": str(ADULT / "models/adult-gbm.skops"),
        "dataset": str(data),
        "label": "income",
        "positive_label": ">50K",
        "sensitive_features": ["sex", "race"],
        "id_column": "applicant_id",
        "policy": str(ROOT / "policies/baseline.yaml"),
        "output": str(folder / "reports"),
        "engine": engine,
        "explain": {
            "rows": "adverse",
            "reason_codes": str(ROOT / "policies/reason-codes/adult.yaml"),
        },
    }
    path = folder / f"audit-{engine}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engine", default="stream", choices=["memory", "stream", "dask"])
    parser.add_argument("--keep", type=Path, help="keep the data here (reused when present)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-adverse-"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = dataset(folder, args.rows)
    print(f"data: {data} ({args.rows:,} rows; {time.perf_counter() - t0:.1f} s to make or find)")
    path = spec(folder, data, args.engine)
    env_home = folder / "home"
    command = [sys.executable, "-m", "audit", "run", str(path), "--no-pdf", "--no-sign", "-v"]
    t0 = time.perf_counter()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**_env(), "AUDIT_HOME": str(env_home)},
        check=False,
    )
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit(f"audit run failed with exit {done.returncode}")
    out = done.stdout + done.stderr  # -v prints the stage times on stderr
    stages = dict(re.findall(r"^  (\S[^\n]*?)\s{2,}([0-9.]+) s$", out, flags=re.M))
    print("stage times (audit run -v):")
    for name, seconds in stages.items():
        print(f"  {name:<20} {float(seconds):8.2f} s")
    (bundle,) = sorted((folder / "reports/adult-adverse").glob("v*"), key=_version)[-1:]
    with (bundle / "reasons.csv").open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        ids = set()
        lines = 0
        for line in reader:
            ids.add(line[0])
            lines += 1
    reasons = float(stages.get("reasons", "nan"))
    print(f"adverse decisions with reasons: {len(ids):,} ({lines:,} reasons.csv lines)")
    print(
        f"reasons pass: {reasons:.1f} s, {len(ids) / reasons:,.0f} adverse decisions/s, "
        f"{args.rows / reasons:,.0f} rows/s; whole audit {wall:.1f} s "
        f"(target: reasons of every adverse decision of 1M rows < 120 s)"
    )


def _version(path: Path) -> int:
    return int(path.name[1:])


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


if __name__ == "__main__":
    main()
