"""Benchmark: one audit through each engine backend (memory, stream, dask) at 10M or 100M rows.

Uses bench_large_data's synthetic dataset (six float inputs, two sensitive string columns, a
0/1 label and a wide text column the audit must not read), written to Parquet in row groups of
1M rows, one row group in memory at a time, and its model (histogram gradient boosting trained
on the first 200,000 rows, saved with skops). Then, per backend, ``audit run --engine BACKEND``
in a child process, and prints:

- a table: wall time, peak memory, rows/s, the ratio against the memory backend, and the check:
  the report's row count and overall selection rate equal a direct computation (the model run
  here over the same file, batch by batch), and the backend's ``fairness`` section is the same
  JSON as the first backend's;
- the time of each stage per backend (the ``-v`` lines of ``audit run``);
- the fairness statistics on the first 10M rows (``--fairness-rows``) with the decisions
  already known, against fairlearn's MetricFrame (count, selection rate, TPR, FPR by sex, race
  and sex&race) on the same arrays: seconds, ratio and the largest difference of the results;
- the targets of issue #17 as OK or MISSED: 100M rows streamed with a peak under 2 GiB, the
  fairness statistics on 10M rows in under 1 s.

Peak memory is the operating system's: each process's peak resident set (VmHWM in
/proc/PID/status, read every 50 ms while it runs; for the audit process itself ru_maxrss from
wait4 when it has no child processes). For Dask the workers (and their nannies) are separate
processes: the figure is the sum of every process's own peak, an upper bound on what was
resident at any one moment (the peaks need not coincide, and shared library pages count once per
process). Linux only.

The memory backend holds the whole dataset in pandas, so it is skipped above
``--memory-max-rows`` (20M: about 2 GiB a 10M rows on this data) and the ratio column then says
so. Files are kept in ``--keep DIR`` so reruns skip writing the data, training the model and the
direct computation. Exit status 1 when an audit fails or a check does not hold; the targets are
printed, not enforced. At 1M rows or fewer it is a quick try: 50 bootstrap resamples and 100
explained rows instead of 1,000 each, explanations drawn from 20,000 rows instead of 200,000
(the same spec for every backend), MetricFrame on 20,000 rows.

    PYTHONPATH=. python benchmarks/bench_scale.py --rows 200000            # quick: < 1 minute
    PYTHONPATH=. python benchmarks/bench_scale.py --rows 10000000 --keep /tmp/scale
    PYTHONPATH=. python benchmarks/bench_scale.py --rows 100000000 --keep /tmp/scale
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from bench_fairness import largest_difference, run_fairlearn
from bench_large_data import FEATURES, newest_report, train_model, write_dataset, write_spec
from fairlearn.metrics import count, false_positive_rate, selection_rate, true_positive_rate

BACKENDS = ("memory", "stream", "dask")
FAIRLEARN_METRICS = {
    "n": count,
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
}
#: ``audit run -v`` stage lines: "  summarise   12.3 s", its parts indented further
STAGE_LINE = re.compile(r"^(  +)(\S.*?)\s+(\d+(?:\.\d+)?) s$")
STREAM_TARGET_ROWS, STREAM_TARGET_GIB = 100_000_000, 2.0
FAIRNESS_TARGET_ROWS, FAIRNESS_TARGET_S = 10_000_000, 1.0
GIB = 1024**3
#: At this many rows or fewer the benchmark is a quick try (under a minute): fewer bootstrap
#: resamples and explained rows, MetricFrame on fewer rows. Every backend gets the same spec.
QUICK_ROWS = 1_000_000
QUICK = {"n_bootstrap": 50, "explain_sample": 100, "population": 20_000, "fairlearn_rows": 20_000}
FULL = {
    "n_bootstrap": 1000,
    "explain_sample": 1000,
    "population": 200_000,
    "fairlearn_rows": 1_000_000,
}


def quick_or(quick: bool, name: str) -> int:
    return (QUICK if quick else FULL)[name]


@dataclass
class Run:
    backend: str
    rows: int
    wall: float = math.nan
    peak: int = 0  # bytes
    processes: int = 1
    stages: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    skipped: str | None = None  # why it did not run
    problems: list[str] = field(default_factory=list)


# -- the data, the model, the direct computation -----------------------------------------------


def prepare(work: Path, rows: int) -> tuple[Path, Path]:
    data, model = work / f"scale-{rows}.parquet", work / "model.skops"
    t0 = time.perf_counter()
    if write_dataset(data, rows):
        print(f"dataset written in {time.perf_counter() - t0:.1f} s", flush=True)
    if not model.exists():
        first = work / "train-200000.parquet"  # the model is the same whatever --rows is
        write_dataset(first, 200_000)
        train_model(first, model)
    return data, model


def direct_decisions(work: Path, data: Path, model: Path, rows: int) -> np.ndarray:
    """The model's decisions (predict == 1) on every row, computed here batch by batch and kept
    in ``work`` as a memory-mapped .npy (one byte a row): what every report must agree with."""
    cache = work / f"decisions-{rows}.npy"
    if cache.exists():
        return np.load(cache, mmap_mode="r")
    import skops.io as sio

    clf = sio.load(model, trusted=sio.get_untrusted_types(file=model))
    t0 = time.perf_counter()
    partial = work / f"decisions-{rows}.partial.npy"
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.bool_, shape=(rows,))
    start = 0
    for batch in pq.ParquetFile(data).iter_batches(batch_size=1_000_000, columns=FEATURES):
        X = batch.to_pandas()
        out[start : start + len(X)] = clf.predict(X) == 1
        start += len(X)
    out.flush()
    del out
    partial.replace(cache)
    print(f"direct decisions computed in {time.perf_counter() - t0:.1f} s", flush=True)
    return np.load(cache, mmap_mode="r")


def read_first(data: Path, columns: list[str], rows: int | None = None) -> pd.DataFrame:
    """Columns of the first ``rows`` rows (all rows when None), read row group by row group."""
    parts, have = [], 0
    for batch in pq.ParquetFile(data).iter_batches(batch_size=1_000_000, columns=columns):
        parts.append(batch)
        have += len(batch)
        if rows is not None and have >= rows:
            break
    return pa.Table.from_batches(parts).slice(0, rows).to_pandas()


# -- one audit in a child process --------------------------------------------------------------


def engine_flags() -> bool:
    """Whether this checkout's ``audit run`` has ``--engine`` (the engine of issue #17)."""
    out = subprocess.run(
        [sys.executable, "-m", "audit", "run", "--help"], capture_output=True, text=True, env=_env()
    )
    return "--engine" in out.stdout


def _env() -> dict[str, str]:
    root = Path(__file__).resolve().parents[1]
    return {**os.environ, "PYTHONPATH": str(root)}


def _hwm(pid: int) -> int | None:
    """Peak resident set of a live process in bytes (VmHWM), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def run_audit(run: Run, spec: Path, work: Path, flags: list[str], timeout: float) -> None:
    command = [sys.executable, "-m", "audit", "run", str(spec), "--no-pdf", "-v", *flags]
    log_out, log_err = work / f"{run.backend}.stdout", work / f"{run.backend}.stderr"
    peaks: dict[int, int] = {}
    with log_out.open("w") as out, log_err.open("w") as err:
        t0 = time.perf_counter()
        # cwd=work: the audit home (.audit: keys, log) is the benchmark's own, not the checkout's
        proc = subprocess.Popen(command, cwd=work, env=_env(), stdout=out, stderr=err)
        root = psutil.Process(proc.pid)
        status = None
        while status is None:
            try:
                family = [proc.pid, *(c.pid for c in root.children(recursive=True))]
            except psutil.NoSuchProcess:
                family = []
            for pid in family:
                peak = _hwm(pid)
                if peak is not None:
                    peaks[pid] = max(peaks.get(pid, 0), peak)
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(code)
            elif time.perf_counter() - t0 > timeout:
                proc.kill()
            else:
                time.sleep(0.05)
        proc.returncode = status  # reaped by wait4 above; tell Popen
        run.wall = time.perf_counter() - t0
    own = usage.ru_maxrss * 1024  # the audit process's peak (and, max'ed in, its children's)
    others = sum(v for pid, v in peaks.items() if pid != proc.pid)
    run.processes = len(peaks) or 1
    run.peak = others + (peaks.get(proc.pid, own) if others else max(own, peaks.get(proc.pid, 0)))
    stderr = log_err.read_text()
    run.stages = parse_stages(stderr)
    if status not in (0, 1):  # 1: the policy failed the model, still a report
        run.problems.append(f"audit exited {status}; see {log_err}: {stderr.strip()[-600:]}")
        return
    run.report = json.loads(newest_report(work / "reports" / run.backend).read_text())


def parse_stages(stderr: str) -> dict[str, float]:
    """Seconds per stage from ``audit run -v``; a part of a stage (indented further, e.g. the
    predict time summed over partitions) as "stage/part"."""
    stages: dict[str, float] = {}
    parent = ""
    for line in stderr.splitlines():
        m = STAGE_LINE.match(line)
        if m is None or m[2] == "total":
            continue
        if len(m[1]) == 2:
            parent = m[2]
            stages[parent] = float(m[3])
        else:
            stages[f"{parent}/{m[2]}"] = float(m[3])
    return stages


def check(run: Run, decisions: np.ndarray, labels_mean: float, first: Run | None) -> None:
    report = run.report
    assert report is not None
    rows = report["subject"]["dataset"]["rows"]
    if rows != run.rows or report["performance"]["n"] != run.rows:
        run.problems.append(f"row count {rows} / n {report['performance']['n']} != {run.rows}")
    direct = float(np.mean(decisions))
    selection = report["performance"]["selection_rate"]
    if abs(selection - direct) > 1e-12:
        run.problems.append(f"selection rate {selection!r} != direct {direct!r}")
    base = report["performance"]["base_rate"]
    if abs(base - labels_mean) > 1e-12:
        run.problems.append(f"base rate {base!r} != direct {labels_mean!r}")
    if first is not None and first.report is not None:
        ours, theirs = report["fairness"], first.report["fairness"]
        if json.dumps(ours, sort_keys=True) != json.dumps(theirs, sort_keys=True):
            where, worst = _largest_json_difference(ours, theirs)
            run.problems.append(
                f"fairness JSON differs from {first.backend}'s (largest at {where}: {worst})"
            )


def _largest_json_difference(a: Any, b: Any, path: str = "fairness") -> tuple[str, Any]:
    """Where two JSON values differ most: the path and |a - b| for numbers, or 'a != b'."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[tuple[str, Any]] = []
        for key in sorted(a.keys() | b.keys()):
            if key not in a or key not in b:
                return f"{path}.{key}", "present in one only"
            found.append(_largest_json_difference(a[key], b[key], f"{path}.{key}"))
        return _worst(found, path)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return path, f"lengths {len(a)} != {len(b)}"
        return _worst(
            [
                _largest_json_difference(x, y, f"{path}[{i}]")
                for i, (x, y) in enumerate(zip(a, b, strict=True))
            ],
            path,
        )
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return path, abs(a - b)
    return path, 0 if a == b else f"{a!r} != {b!r}"


def _worst(found: list[tuple[str, Any]], path: str) -> tuple[str, Any]:
    texts = [f for f in found if isinstance(f[1], str)]
    if texts:
        return texts[0]
    return max(found, key=lambda f: f[1], default=(path, 0))


# -- the fairness statistics with decisions known, against fairlearn -------------------------


def fairness_vs_fairlearn(
    data: Path, decisions: np.ndarray, rows: int, fairlearn_rows: int, repeat: int
) -> float:
    """Seconds of our fairness statistics on the first ``rows`` rows, decisions known (best of
    ``repeat``); prints them against MetricFrame on the first ``fairlearn_rows`` of the same
    arrays (both timed there, results compared), extrapolated linearly to ``rows`` beyond."""
    frame = read_first(data, ["label", "sex", "race"], rows)
    frame["y_true"] = frame.pop("label") == 1
    frame["y_pred"] = np.asarray(decisions[:rows])
    name, ours = fairness_function()
    ours_s, _ = _best(lambda: ours(frame), repeat)
    small = frame.iloc[: min(rows, fairlearn_rows)]
    ours_small_s, ours_small = _best(lambda: ours(small), repeat)
    t0 = time.perf_counter()
    theirs = run_fairlearn(small, FAIRLEARN_METRICS)
    fairlearn_s = time.perf_counter() - t0
    print(
        f"\nfairness statistics with the decisions known: count, selection rate, TPR, FPR by sex "
        f"(2), race (5) and sex&race (10 cells)\n"
        f"  {name:<38} {rows:>11,} rows  {ours_s:9.3f} s "
        f"(best of {repeat})"
    )
    if len(small) < rows:
        estimate = fairlearn_s * rows / len(small)
        print(
            f"  {name:<38} {len(small):>11,} rows  "
            f"{ours_small_s:9.3f} s (best of {repeat})\n"
            f"  {'fairlearn MetricFrame':<38} {len(small):>11,} rows  "
            f"{fairlearn_s:9.3f} s (1 run); ratio {fairlearn_s / ours_small_s:,.0f}x\n"
            f"  {'fairlearn MetricFrame':<38} {rows:>11,} rows  {estimate:9.1f} s "
            f"EXTRAPOLATED linearly (not run; --fairlearn-rows {rows} runs it); "
            f"ratio {estimate / ours_s:,.0f}x"
        )
    else:
        print(
            f"  {'fairlearn MetricFrame':<38} {rows:>11,} rows  {fairlearn_s:9.3f} s "
            f"(1 run); ratio {fairlearn_s / ours_s:,.0f}x"
        )
    difference = largest_difference(ours_small, theirs)
    print(f"  largest difference of the results on {len(small):,} rows: {difference:.1e}")
    return ours_s


def fairness_function() -> tuple[str, Any]:
    """The fairness statistics once decisions are known: the engine's ``summarise_arrays``
    (counts per joint cell) and ``finalize.fairness`` (the fairness section from them), or,
    in a checkout without the engine of issue #17, ``compute_fairness``."""
    try:
        from audit.engine.finalize import FairnessOptions, fairness
        from audit.engine.stats import summarise_arrays
    except ImportError:
        from audit.fairness import compute_fairness

        def old(frame: pd.DataFrame) -> Any:
            sensitive = frame[["sex", "race"]]
            return compute_fairness(frame["y_true"], frame["y_pred"], sensitive, n_bootstrap=0)

        return "audit compute_fairness(n_bootstrap=0)", old

    def engine(frame: pd.DataFrame) -> Any:
        stats = summarise_arrays(
            frame[["sex", "race"]],
            frame["y_pred"].to_numpy(),
            y_true=frame["y_true"].to_numpy(),
        )
        return fairness(stats, ["sex", "race"], FairnessOptions(n_bootstrap=0))

    return "audit summarise_arrays + fairness", engine


def _best(function: Any, repeat: int) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - t0)
    return best, result


# -- output -------------------------------------------------------------------------------------


def print_tables(runs: list[Run]) -> None:
    memory = next((r for r in runs if r.backend == "memory" and r.report is not None), None)
    print(
        f"\n{'backend':<8} {'rows':>12} {'wall s':>8} {'peak GiB':>9} {'procs':>5} "
        f"{'rows/s':>10} {'wall/mem':>8} {'peak/mem':>8}  check"
    )
    for r in runs:
        if r.skipped:
            print(f"{r.backend:<8} {r.rows:>12,}  skipped: {r.skipped}")
            continue
        if memory is not None:
            ratios = f"{r.wall / memory.wall:>8.2f} {r.peak / memory.peak:>8.2f}"
        else:
            ratios = f"{'n/a':>8} {'n/a':>8}"
        verdict = "OK" if not r.problems else "FAILED: " + "; ".join(r.problems)
        print(
            f"{r.backend:<8} {r.rows:>12,} {r.wall:>8.1f} {r.peak / GIB:>9.2f} {r.processes:>5} "
            f"{r.rows / r.wall:>10,.0f} {ratios}  {verdict}"
        )
    ran = [r for r in runs if r.stages]
    if not ran:
        return
    stages = list(dict.fromkeys(s for r in ran for s in r.stages))
    print(
        "\nseconds per stage (audit run -v)\n"
        + f"{'stage':<20}"
        + "".join(f"{r.backend:>10}" for r in ran)
    )
    for stage in stages:
        cells = "".join(
            f"{r.stages[stage]:>10.3f}" if stage in r.stages else f"{'-':>10}" for r in ran
        )
        shown = "  " + stage.split("/", 1)[1] if "/" in stage else stage
        print(f"{shown:<20}{cells}")


def print_targets(runs: list[Run], fairness_rows: int, fairness_s: float | None) -> None:
    print("\ntargets (issue #17)")
    stream = next((r for r in runs if r.backend == "stream" and r.report is not None), None)
    label = f"{STREAM_TARGET_ROWS:,} rows streamed, peak < {STREAM_TARGET_GIB:g} GiB"
    if stream is None or stream.rows < STREAM_TARGET_ROWS:
        print(f"  {label}: not measured (run --rows {STREAM_TARGET_ROWS})")
    else:
        verdict = "OK" if stream.peak < STREAM_TARGET_GIB * GIB else "MISSED"
        print(f"  {label}: {verdict} ({stream.peak / GIB:.2f} GiB)")
    label = f"fairness on {FAIRNESS_TARGET_ROWS:,} rows, decisions known, < {FAIRNESS_TARGET_S:g} s"
    if fairness_s is None or fairness_rows < FAIRNESS_TARGET_ROWS:
        print(f"  {label}: not measured (run --rows {FAIRNESS_TARGET_ROWS} or more)")
    else:
        verdict = "OK" if fairness_s < FAIRNESS_TARGET_S else "MISSED"
        print(f"  {label}: {verdict} ({fairness_s:.3f} s)")


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the files")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument(
        "--batch-rows", type=int, help="stream and dask (default: the engine's, 250,000)"
    )
    parser.add_argument("--workers", type=int, default=2, help="dask LocalCluster workers")
    parser.add_argument("--scheduler", help="a Dask scheduler address instead of a LocalCluster")
    parser.add_argument("--memory-max-rows", type=int, default=20_000_000)
    parser.add_argument("--fairness-rows", type=int, default=FAIRNESS_TARGET_ROWS)
    parser.add_argument(
        "--fairlearn-rows",
        type=int,
        help="run MetricFrame on this many of those rows (default 1M, 20,000 in quick mode; "
        "about 50 s a 1M rows with pandas 3); extrapolate beyond",
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of N for our fairness")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per audit")
    parser.add_argument(
        "--n-bootstrap",
        type=int,
        help=f"fairness.n_bootstrap of the spec (default 1000; {QUICK['n_bootstrap']} at "
        f"{QUICK_ROWS:,} rows or fewer)",
    )
    parser.add_argument(
        "--explain-sample",
        type=int,
        help=f"explain.sample_size (default 1000; {QUICK['explain_sample']} at {QUICK_ROWS:,} "
        "rows or fewer)",
    )
    args = parser.parse_args()
    quick = args.rows <= QUICK_ROWS
    n_bootstrap = (
        args.n_bootstrap if args.n_bootstrap is not None else quick_or(quick, "n_bootstrap")
    )
    sample = (
        args.explain_sample
        if args.explain_sample is not None
        else quick_or(quick, "explain_sample")
    )
    if args.fairlearn_rows is None:
        args.fairlearn_rows = quick_or(quick, "fairlearn_rows")
    if quick:
        print(
            f"quick mode ({args.rows:,} rows <= {QUICK_ROWS:,}): fairness.n_bootstrap "
            f"{n_bootstrap}, explain.sample_size {sample}, explain.population "
            f"{QUICK['population']:,}, MetricFrame on "
            f"{min(args.fairlearn_rows, args.rows):,} rows (--n-bootstrap, --explain-sample, "
            "--fairlearn-rows change them)"
        )
    work = args.keep or Path(tempfile.mkdtemp(prefix="audit-scale-"))
    work.mkdir(parents=True, exist_ok=True)

    data, model = prepare(work, args.rows)
    print(
        f"dataset: {data} ({args.rows:,} rows, {pq.ParquetFile(data).num_row_groups} row groups, "
        f"{data.stat().st_size / 2**20:,.0f} MiB)",
        flush=True,
    )
    decisions = direct_decisions(work, data, model, args.rows)
    labels_mean = float(np.mean(read_first(data, ["label"])["label"] == 1))
    with_engine = engine_flags()

    runs: list[Run] = []
    for backend in args.backends:
        run = Run(backend, args.rows)
        runs.append(run)
        if backend == "memory" and args.rows > args.memory_max_rows:
            run.skipped = (
                f"more than --memory-max-rows {args.memory_max_rows:,} rows: the whole dataset "
                "would be held in pandas (about 2 GiB a 10M rows here)"
            )
            continue
        if not with_engine and backend != "memory":
            run.skipped = "this audit run has no --engine (the engine of issue #17 is not here)"
            continue
        flags = ["--engine", backend] if with_engine else []
        if backend != "memory" and args.batch_rows:
            flags += ["--batch-rows", str(args.batch_rows)]
        if backend == "dask":
            flags += ["--scheduler", args.scheduler] if args.scheduler else []
            flags += ["--workers", str(args.workers)]
        output = work / "reports" / backend
        shutil.rmtree(output, ignore_errors=True)
        spec = work / f"audit-{backend}.yaml"
        write_spec(
            spec,
            name="scale",
            model=model,
            data=data,
            output=output,
            explain={"sample_size": sample}
            | ({"population": quick_or(quick, "population")} if with_engine else {}),
            fairness={"n_bootstrap": n_bootstrap},
        )
        print(f"running {backend} ...", flush=True)
        run_audit(run, spec, work, flags, args.timeout)
        if run.report is not None:
            first = next((r for r in runs if r.report is not None and r is not run), None)
            check(run, decisions, labels_mean, first)

    fairness_rows = min(args.rows, args.fairness_rows)
    fairness_s = fairness_vs_fairlearn(
        data, decisions, fairness_rows, args.fairlearn_rows, args.repeat
    )
    print_tables(runs)
    print_targets(runs, fairness_rows, fairness_s)
    print(
        "\npeak memory: each process's peak resident set (VmHWM, polled every 50 ms; wait4's "
        "ru_maxrss for a lone audit process), summed over the audit process and its children "
        "(Dask workers and nannies): an upper bound on the simultaneous total"
    )
    if any(r.problems for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
