"""`audit serve` under load on loopback: 25 concurrent readers and 4 concurrent audits for a
bounded time (benchmarks/bench_serve.py runs 50 and 8; shortened here to keep the suite short): no request fails, every answered read has
its access-log entry, and the log verifies. Figures are printed, never asserted."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_serve import load


def test_concurrent_readers_and_audits(tmp_path: Path) -> None:
    r = load(tmp_path, readers=25, audits=4, seconds=4, recorded=True)
    print(r)
    assert set(r["read_codes"]) == {200}, r["read_codes"]
    assert r["reads"] > 25
    assert r["audits"] >= 4 and set(r["audit_codes"]) <= {0, 1} and not r["audit_errors"]
    assert r["logged_reads"] == r["reads"]  # no lost log entry
    assert r["log_verify_exit"] == 0, r["log_verify"]
