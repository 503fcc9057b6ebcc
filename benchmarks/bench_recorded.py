"""Benchmark: the whole audit of 1M recorded decisions (no model) against fairlearn's MetricFrame.

An audit of recorded decisions has no model: the spec names the dataset's ``decision`` column
(``predictions:``). The data: rows of samples/adult/adult_test.csv resampled with a seeded rng to
``--rows`` (1M by default), an ``applicant_id`` and a ``decision`` column of recorded decisions
(">50K" / "<=50K", drawn to depend on the row's label, sex and race), written as CSV once into
``--keep`` (reused when it is already there with as many rows). The policy: the shipped
four-fifths pack (impact ratio by sex, race and their intersection).

Timed in one run:

- ``audit run`` end to end as a subprocess (a fresh interpreter: imports, the CSV read, the
  fairness statistics with 1,000 resamples, the report, the PDF and the signed bundle), best of
  ``--repeat``; the ``-v`` stage times of the best run are printed; then with ``--no-pdf``, for
  comparison (the PDF's cost depends on the report, not on the rows);
- fairlearn's ``MetricFrame`` computing just the group metrics the audit reports (the metrics of
  benchmarks/bench_fairness.py ``METRICS``, by sex, race and sex&race, through its
  ``run_fairlearn``) on the same data already in memory (its CSV read is not counted), best of
  ``--fairlearn-repeat``.

Prints both, rows per second and the ratio (issue #18's target: at least 25).

    PYTHONPATH=. python benchmarks/bench_recorded.py [--rows 1000000] [--keep DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fairness import FEATURES, run_fairlearn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "adult" / "adult_test.csv"
POLICY = ROOT / "policies" / "four-fifths.yaml"
POSITIVE = ">50K"
TARGET = 25.0
STAGE_LINE = re.compile(r"^(\s+)(\S.*?)\s+([0-9.]+) s$")


def write_dataset(path: Path, rows: int, seed: int = 0) -> bool:
    """Resample the Adult test rows to ``rows`` with a seeded rng, add an id and a recorded
    decision, write CSV. A file already there with that many data rows is kept (False)."""
    if path.exists():
        with path.open("rb") as fh:
            if sum(1 for _ in fh) - 1 == rows:
                return False
    rng = np.random.default_rng(seed)
    sample = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    frame = sample.iloc[rng.integers(0, len(sample), rows)].reset_index(drop=True)
    frame.insert(0, "applicant_id", [f"A{i:07d}" for i in range(rows)])
    # recorded decisions: mostly the outcome, with errors and a little group dependence
    good = (frame["income"] == POSITIVE).to_numpy()
    male = (frame["sex"] == "Male").to_numpy()
    white = (frame["race"] == "White").to_numpy()
    p = np.where(good, 0.70, 0.08) + 0.04 * male + 0.02 * white
    frame["decision"] = np.where(rng.random(rows) < p, POSITIVE, "<=50K")
    partial = path.with_name(path.name + ".partial")
    frame.to_csv(partial, index=False)
    partial.replace(path)
    return True


def write_spec(spec: Path, data: Path, output: Path) -> None:
    settings = {
        "name": "recorded",
        "dataset": str(data),
        "label": "income",
        "positive_label": POSITIVE,
        "predictions": "decision",
        "id_column": "applicant_id",
        "sensitive_features": ["sex", "race"],
        "policy": str(POLICY),
        "output": str(output),
    }
    spec.write_text(json.dumps(settings, indent=1))  # JSON is YAML


def parse_stages(stderr: str) -> list[tuple[str, float]]:
    """(stage, seconds) lines of ``audit run -v``, parts of a stage indented under it."""
    found = []
    for line in stderr.splitlines():
        m = STAGE_LINE.match(line)
        if m is not None:
            found.append((("  " if len(m[1]) > 2 else "") + m[2], float(m[3])))
    return found


def time_audit(spec: Path, work: Path, repeat: int, *flags: str) -> tuple[float, str, dict]:
    """Best wall seconds of ``audit run SPEC -v [flags]`` in a fresh interpreter, its stderr
    and the report of the last run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AUDIT_KEY_PASSPHRASE": "bench-recorded"}
    env["AUDIT_HOME"] = str(work / "home")
    best, best_err = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "audit", "run", str(spec), "-v", *flags],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - t0
        if proc.returncode not in (0, 1):  # 1: the policy failed the decisions, still a report
            sys.exit(f"audit exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        if seconds < best:
            best, best_err = seconds, proc.stderr
    found = sorted(
        (work / "reports").glob("*/v*/report.json"), key=lambda p: int(p.parent.name[1:])
    )
    return best, best_err, json.loads(found[-1].read_text())


def time_fairlearn(data: Path, repeat: int) -> tuple[float, dict]:
    """Best seconds of bench_fairness.run_fairlearn on the data already in memory."""
    raw = pd.read_csv(data, usecols=["income", "decision", "sex", "race"], dtype=str)
    frame = pd.DataFrame(
        {
            "y_true": (raw["income"] == POSITIVE).to_numpy(),
            "y_pred": (raw["decision"] == POSITIVE).to_numpy(),
            "sex": raw["sex"],
            "race": raw["race"],
        }
    )
    best, result = float("inf"), {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_fairlearn(frame)
        best = min(best, time.perf_counter() - t0)
    return best, result


def check(report: dict, theirs: dict) -> tuple[float, int]:
    """Largest difference between the report's group metrics and MetricFrame's (the same
    work), and how many values were compared."""
    worst, compared = 0.0, 0
    for key, _ in FEATURES:
        by_group = theirs[key][0]
        for name, group in report["fairness"][key]["groups"].items():
            index = tuple(name.split("&")) if "&" in key else name
            for metric in by_group.columns:
                ours, value = group.get(metric), by_group.loc[index, metric]
                if ours is None or value != value:  # not reported (too few rows) / NaN
                    continue
                worst = max(worst, abs(float(ours) - float(value)))
                compared += 1
    return worst, compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the files")
    parser.add_argument("--repeat", type=int, default=3, help="audit runs (best counted)")
    parser.add_argument("--fairlearn-repeat", type=int, default=1)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="audit-recorded-"))
    work.mkdir(parents=True, exist_ok=True)
    data, spec = work / "recorded.csv", work / "audit.yaml"
    t0 = time.perf_counter()
    if write_dataset(data, args.rows):
        print(f"wrote {data} ({time.perf_counter() - t0:.1f} s)")
    write_spec(spec, data, work / "reports")

    audit_s, stderr, report = time_audit(spec, work, args.repeat)
    no_pdf_s, _, _ = time_audit(spec, work, args.repeat, "--no-pdf")
    fairlearn_s, theirs = time_fairlearn(data, args.fairlearn_repeat)
    rows = report["subject"]["dataset"]["rows"]
    assert rows == args.rows, (rows, args.rows)

    size = data.stat().st_size / 1024**2
    print(f"data: {rows:,} recorded decisions, {size:,.0f} MiB CSV; policy {POLICY.name}")
    print(f"\naudit run -v stage times (best of {args.repeat} runs):")
    for stage, seconds in parse_stages(stderr):
        print(f"  {stage:<22} {seconds:8.3f} s")
    print(
        f"\n  {'audit run (whole process)':<40} {audit_s:8.3f} s  {rows / audit_s:>12,.0f} rows/s"
    )
    print(
        f"  {'fairlearn MetricFrame (in memory)':<40} {fairlearn_s:8.3f} s  "
        f"{rows / fairlearn_s:>12,.0f} rows/s  ({len(FEATURES)} features, 10 metrics)"
    )
    print(
        f"  {'audit run --no-pdf (for comparison)':<40} {no_pdf_s:8.3f} s  "
        f"{rows / no_pdf_s:>12,.0f} rows/s  (ratio {fairlearn_s / no_pdf_s:.1f}x)"
    )
    ratio = fairlearn_s / audit_s
    worst, compared = check(report, theirs)
    print(f"  largest difference of the {compared} group metrics both report: {worst:.3g}")
    verdict = "OK" if ratio >= TARGET else "MISSED"
    print(f"\nratio MetricFrame / whole audit: {ratio:.1f}x (target >= {TARGET:.0f}x: {verdict})")


if __name__ == "__main__":
    main()
