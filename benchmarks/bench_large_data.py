"""Benchmark: audit a 10-million-row Parquet dataset and measure peak memory.

Writes a synthetic dataset (six numeric model inputs, an unused wide text column the audit must
not read, two sensitive string columns, a 0/1 label) in row groups, trains a histogram gradient
boosting model on a 200,000-row sample and saves it with skops, then runs ``audit run`` in a
child process: fairness on every row, SHAP explanations on the seeded sample. Prints the stage
times and the child's peak resident memory (``ru_maxrss``), and checks the report's row count
and overall selection rate against a direct computation. The promise is a peak under 4 GiB.

    PYTHONPATH=. python benchmarks/bench_large_data.py [--rows 10000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [f"x{i}" for i in range(6)]
CHUNK = 1_000_000


def _chunk(rng: np.random.Generator, n: int) -> pa.Table:
    sex = rng.choice(np.array(["female", "male"]), n)
    race = rng.choice(np.array(["a", "b", "c", "d", "e"]), n, p=[0.6, 0.2, 0.1, 0.06, 0.04])
    X = rng.normal(size=(n, len(FEATURES))).astype(np.float32)
    logit = X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2] + 0.4 * (sex == "male")
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    cols = {f: X[:, i] for i, f in enumerate(FEATURES)}
    cols |= {"sex": sex, "race": race, "label": label}
    cols["comment"] = np.char.add("free text not needed by the audit #", np.arange(n).astype(str))
    return pa.table(cols)


def write_dataset(path: Path, rows: int, seed: int = 0) -> bool:
    """Write ``rows`` synthetic rows to ``path`` in row groups of ``CHUNK`` rows, one chunk in
    memory at a time (100M rows never are). A file already there with that many rows is kept
    (returns False); the file is written under a temporary name and renamed when complete, so
    an interrupted run never leaves a short file that a rerun would take for a finished one."""
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return False
    rng = np.random.default_rng(seed)
    partial = path.with_name(path.name + ".partial")
    writer = None
    for start in range(0, rows, CHUNK):
        table = _chunk(rng, min(CHUNK, rows - start))
        writer = writer or pq.ParquetWriter(partial, table.schema)
        writer.write_table(table, row_group_size=CHUNK)
    assert writer is not None
    writer.close()
    partial.replace(path)
    return True


def train_model(data: Path, model: Path, rows: int = 200_000) -> None:
    """Fit a small histogram gradient boosting model on the first ``rows`` rows (read alone,
    not the whole file) and save it with skops."""
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    batch = next(pq.ParquetFile(data).iter_batches(batch_size=rows, columns=[*FEATURES, "label"]))
    sample = batch.to_pandas()
    clf = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    clf.fit(sample[FEATURES], sample["label"])
    sio.dump(clf, model)


def write_spec(
    spec: Path, *, name: str, model: Path, data: Path, output: Path, **extra: object
) -> None:
    """The audit spec both benchmarks run (JSON is YAML): fairness by sex, race and their
    intersection on every row, SHAP on a seeded sample of 1,000, the baseline policy."""
    root = Path(__file__).resolve().parents[1]
    settings: dict[str, object] = {
        "name": name,
        "model": str(model),
        "dataset": str(data),
        "label": "label",
        "positive_label": 1,
        "sensitive_features": ["sex", "race"],
        "policy": str(root / "policies" / "baseline.yaml"),
        "output": str(output),
        "explain": {"sample_size": 1000},
    }
    spec.write_text(json.dumps(settings | extra, indent=1))


def newest_report(output: Path) -> Path:
    """report.json of the highest bundle version under ``output`` (reruns with --keep add v2...)."""
    found = sorted(output.glob("*/v*/report.json"), key=lambda p: int(p.parent.name[1:]))
    if not found:
        raise SystemExit(f"no report.json under {output}")
    return found[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the files")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data, model = work / "large.parquet", work / "model.skops"
    root = Path(__file__).resolve().parents[1]

    t0 = time.perf_counter()
    written = write_dataset(data, args.rows)
    t_write = time.perf_counter() - t0
    train_model(data, model)
    spec = work / "audit.yaml"
    write_spec(spec, name="large", model=model, data=data, output=work / "reports")
    env = {**os.environ, "PYTHONPATH": str(root)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "audit", "run", str(spec), "--no-pdf", "-v"],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    if proc.returncode not in (0, 1):
        sys.exit(f"audit failed ({proc.returncode}):\n{proc.stderr}")
    report = json.loads(newest_report(work / "reports").read_text())

    labels = pq.read_table(data, columns=["label"]).column("label").to_numpy()
    rows = report["subject"]["dataset"]["rows"]
    assert rows == args.rows == len(labels), (rows, args.rows)
    explained = report["explanations"]
    print(f"rows:                {rows:,}  ({data.stat().st_size / 1024**2:,.0f} MiB Parquet)")
    print(
        f"dataset written in   {t_write:8.1f} s" if written else "dataset kept from a previous run"
    )
    print(f"audit wall time      {wall:8.1f} s")
    print(
        "stage times:\n"
        + "\n".join(
            f"  {line.strip()}" for line in proc.stderr.splitlines() if line.startswith("  ")
        )
    )
    print(
        f"explanations:        {explained.get('method', explained.get('status'))} on "
        f"{explained.get('sample_size', explained.get('reason'))} rows"
    )
    print(
        f"base rate check:     report {report['performance'].get('base_rate', 'n/a')} "
        f"vs direct {labels.mean():.6f}"
    )
    print(
        f"peak memory (child): {peak_gib:.2f} GiB  (promise: < 4 GiB) "
        f"{'OK' if peak_gib < 4 else 'EXCEEDED'}"
    )
    if peak_gib >= 4:
        sys.exit(1)


if __name__ == "__main__":
    main()
