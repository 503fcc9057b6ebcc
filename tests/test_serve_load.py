"""`audit serve` under load on loopback: 50 concurrent readers and 8 concurrent audits for a
bounded time (benchmarks/bench_serve.py, shortened): no request fails, every answered read has
its access-log entry, and the log verifies. Figures are printed, never asserted."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_serve import load


def test_fifty_readers_and_eight_audits(tmp_path: Path) -> None:
    r = load(tmp_path, readers=50, audits=8, seconds=6, recorded=True)
    print(r)
    assert set(r["read_codes"]) == {200}, r["read_codes"]
    assert r["reads"] > 50
    assert r["audits"] >= 8 and set(r["audit_codes"]) <= {0, 1} and not r["audit_errors"]
    assert r["logged_reads"] == r["reads"]  # no lost log entry
    assert r["log_verify_exit"] == 0, r["log_verify"]
