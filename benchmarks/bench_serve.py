"""Load on `audit serve` over loopback: concurrent readers and audits for a bounded time.

    python benchmarks/bench_serve.py [--readers 50] [--audits 8] [--seconds 30] [--database URL]

Starts a real service (SQLite, or PostgreSQL with --database), registers the German credit
sample, then for ``--seconds``: ``--readers`` threads each loop over GET /api/v1/reports and a
report.json with their own token, while ``--audits`` clients each run one audit after another
through `audit --server`. Afterwards it checks that no request failed, that every reader request
that was answered has its entry in the access log (no lost entry), and that the log verifies,
and prints request rates and latencies.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servekit import (  # noqa: E402
    Served,
    register_german,
    register_recorded,
    start_service,
    write_spec,
)


def _reader(served: Served, token: str, name: str, stop: float, out: dict[str, Any]) -> None:
    latencies: list[float] = []
    codes: Counter[int] = Counter()
    with served.http(token) as http:
        paths = ["/api/v1/reports", f"/api/v1/reports/{name}/v1"]
        i = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                code = http.get(paths[i % 2]).status_code
            except Exception:  # noqa: BLE001 - a transport error is counted, not raised
                code = -1
            latencies.append(time.perf_counter() - t0)
            codes[code] += 1
            i += 1
    out["latencies"] = latencies
    out["codes"] = codes


def _auditor(served: Served, spec: Path, stop: float, out: dict[str, Any]) -> None:
    runs: list[tuple[int, float]] = []
    while time.monotonic() < stop or not runs:
        t0 = time.perf_counter()
        done = served.cli("run", str(spec), "--no-pdf", check=None)
        runs.append((done.returncode, time.perf_counter() - t0))
        if done.returncode not in (0, 1):
            out["error"] = done.stderr[-2000:]
    out["runs"] = runs


def load(
    folder: Path,
    *,
    readers: int = 50,
    audits: int = 8,
    seconds: float = 30.0,
    database: str | None = None,
    recorded: bool = False,
) -> dict[str, Any]:
    """Run the load and return its figures (see the module doc). ``recorded``: the audit clients
    audit recorded decisions (no model), a lighter audit."""
    served = start_service(folder / "srv", database=database, jobs=audits)
    try:
        if recorded:
            spec = register_recorded(served, folder / "recorded")
        else:
            register_german(served)
            spec = write_spec(folder / "client")
        name = json.loads(spec.read_text())["name"]
        served.cli("run", str(spec), "--no-pdf")  # v1 exists before the readers start
        tokens = [served.token(f"reader-{i}", ["viewer"]) for i in range(min(readers, 5))]
        before = len(served.entries())
        stop = time.monotonic() + seconds
        reader_out = [dict[str, Any]() for _ in range(readers)]
        audit_out = [dict[str, Any]() for _ in range(audits)]
        threads = [
            threading.Thread(target=_reader, args=(served, tokens[i % len(tokens)], name, stop, o))
            for i, o in enumerate(reader_out)
        ] + [threading.Thread(target=_auditor, args=(served, spec, stop, o)) for o in audit_out]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        entries = served.entries()[before:]
        verified = served.cli("log", "verify", check=None)
    finally:
        served.stop()
    codes: Counter[int] = Counter()
    latencies: list[float] = []
    for o in reader_out:
        codes.update(o["codes"])
        latencies += o["latencies"]
    runs = [r for o in audit_out for r in o["runs"]]
    logged_reads = sum(
        1 for e in entries if e["actor"].startswith("reader-") and e["action"] == "report:read"
    )
    latencies.sort()
    return {
        "wall_s": wall,
        "reads": sum(codes.values()),
        "read_codes": dict(codes),
        "reads_per_s": sum(codes.values()) / wall,
        "read_p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "read_p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "audits": len(runs),
        "audit_codes": dict(Counter(code for code, _ in runs)),
        "audit_mean_s": statistics.mean(s for _, s in runs) if runs else None,
        "audit_errors": [o["error"] for o in audit_out if "error" in o],
        "logged_reads": logged_reads,
        "log_verify_exit": verified.returncode,
        "log_verify": (verified.stdout + verified.stderr).strip().splitlines()[-1:],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readers", type=int, default=50)
    p.add_argument("--audits", type=int, default=8)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--database")
    p.add_argument("--recorded", action="store_true", help="audit recorded decisions (no model)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = load(
            Path(tmp),
            readers=args.readers,
            audits=args.audits,
            seconds=args.seconds,
            database=args.database,
            recorded=args.recorded,
        )
    print(
        f"audit serve under load on loopback ({args.readers} readers, {args.audits} audit "
        f"clients, {r['wall_s']:.1f} s, {'PostgreSQL' if args.database else 'SQLite'})"
    )
    print(
        f"  reads:  {r['reads']} ({r['reads_per_s']:.1f}/s), status {r['read_codes']}, "
        f"p50 {r['read_p50_ms']:.0f} ms, p99 {r['read_p99_ms']:.0f} ms"
    )
    print(
        f"  audits: {r['audits']} completed, exit codes {r['audit_codes']}, "
        f"mean {r['audit_mean_s']:.1f} s each"
    )
    print(
        f"  log:    {r['logged_reads']} read entries for {r['reads']} reads; "
        f"log verify exit {r['log_verify_exit']}: {' '.join(r['log_verify'])}"
    )
    ok = (
        set(r["read_codes"]) == {200}
        and not r["audit_errors"]
        and r["logged_reads"] == r["reads"]
        and r["log_verify_exit"] == 0
    )
    print("  result: " + ("no error, no lost entry, the log verifies" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
