"""Benchmark: access-log appends per second, and `verify` of a large log.

Targets (issue 8): at least 1,000 appends per second, and verifying 100,000 entries (chain,
canonical bytes, RFC 6962 roots of every checkpoint, signatures) in under 5 seconds.

Appends are measured through the public API, one transaction per entry as a CLI command makes
them, with a checkpoint signed every 1,000 entries: single process with the default
``synchronous=NORMAL``, single process with ``durable=True`` (an fsync per commit, reported for
information: it depends on the disk), and ``--procs`` processes appending concurrently.

    PYTHONPATH=. python benchmarks/bench_access_log.py [--entries 100000] [--appends 5000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.access import AccessLog, Actor

ACTOR = Actor(user="bench", uid=1000)


def append_n(log: AccessLog, n: int, tag: str = "") -> None:
    for i in range(n):
        log.append(
            actor=ACTOR,
            action="audit:run" if i % 4 else "report:read",
            resource=f"model:credit-scoring{tag}@{i % 97}",
            decision="allow" if i % 5 else "deny",
            reason="role 'engineer' allows 'audit:run'",
            rbac_sha256="3f" * 32,
        )


def rate(path: Path, n: int, *, durable: bool, key: Ed25519PrivateKey) -> float:
    with AccessLog(path, signing_key=key, durable=durable) as log:
        t0 = time.perf_counter()
        append_n(log, n)
        return n / (time.perf_counter() - t0)


def _worker(path: str, n: int, tag: str) -> None:
    with AccessLog(Path(path)) as log:
        append_n(log, n, tag)


def concurrent_rate(path: Path, procs: int, n: int) -> float:
    AccessLog(path).close()
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_worker, args=(str(path), n, f"-p{i}")) for i in range(procs)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return procs * n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000, help="size of the log to verify")
    ap.add_argument("--appends", type=int, default=5_000, help="appends per rate measurement")
    ap.add_argument("--procs", type=int, default=4, help="concurrent appending processes")
    args = ap.parse_args()
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        normal = rate(d / "normal.db", args.appends, durable=False, key=key)
        durable = rate(d / "durable.db", min(args.appends, 1000), durable=True, key=key)
        conc = concurrent_rate(d / "concurrent.db", args.procs, args.appends // args.procs)
        print(f"appends/s, 1 process (synchronous=NORMAL): {normal:10,.0f}   target >= 1,000")
        print(f"appends/s, 1 process (durable, FULL):      {durable:10,.0f}   (disk-bound)")
        print(f"appends/s, {args.procs} processes concurrently:       {conc:10,.0f}")

        big = d / "big.db"
        t0 = time.perf_counter()
        with AccessLog(big, signing_key=key) as log:
            append_n(log, args.entries)
        build = time.perf_counter() - t0
        with AccessLog(big) as log:
            t0 = time.perf_counter()
            result = log.verify([key.public_key()])
            verify_s = time.perf_counter() - t0
        assert result.ok and result.entries == args.entries, result.problems
        print(
            f"verify of {result.entries:,} entries and {result.checkpoints} checkpoints: "
            f"{verify_s:6.2f} s   target < 5 s   (built in {build:.1f} s)"
        )


if __name__ == "__main__":
    main()
