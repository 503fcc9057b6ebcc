"""Benchmark: what signing adds to an audit, and what verifying a bundle costs.

Builds a real bundle (report.json from the example report, report.html and a WeasyPrint
report.pdf, junit.xml, summary.md) and measures:

* cold sign: a fresh Python process imports ``audit.signing`` and runs ``sign_bundle`` (PAdES
  signature + attestation) - the time signing adds to one ``audit run`` (the identity is loaded
  from disk, passphrase-encrypted keys included);
* warm sign: ``sign_bundle`` again in a process that has signed before (median of --repeat);
* plain pyHanko: signing the same PDF with pyHanko alone, the floor our extra work is compared to;
* verify: ``verify_bundle`` cold (fresh process) and warm;
* render: writing report.html + report.pdf, for scale.

    PYTHONPATH=. python benchmarks/bench_signing.py [--repeat 5]

The target from issue 7 is "signing adds under 1 s to an audit": compare "cold sign" with 1 s.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "report_example.json"

COLD_SIGN = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from audit.bundles import read_report
from audit.signing import load_identity, predicate_from_report, sign_bundle
ident = load_identity(Path(sys.argv[1]), sys.argv[3])
folder = Path(sys.argv[2])
report = read_report(folder / "report.json")
sign_bundle(folder, ident, predicate=predicate_from_report(report))
print(time.perf_counter() - t0)
"""

COLD_VERIFY = """
import sys, time
from pathlib import Path
t0 = time.perf_counter()
from audit.signing import verify_bundle
result = verify_bundle(Path(sys.argv[1]), Path(sys.argv[2]))
assert result.ok, result.problems
print(time.perf_counter() - t0)
"""


def _cold(script: str, *args: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from audit.contract import Report
    from audit.report import bundle_renderers
    from audit.signing import (
        export_keyring,
        init_identity,
        load_identity,
        predicate_from_report,
        sign_bundle,
        verify_bundle,
    )

    work = Path(tempfile.mkdtemp(prefix="bench-signing-"))
    try:
        report = Report.model_validate(json.loads(FIXTURE.read_text()))
        base = work / "unsigned"
        base.mkdir()
        (base / "report.json").write_bytes(report.to_bytes())
        t0 = time.perf_counter()
        for renderer in bundle_renderers()[:2]:  # report.html and report.pdf
            renderer(report, base)
        render = time.perf_counter() - t0
        (base / "junit.xml").write_text('<testsuite name="audit" tests="0"/>\n')
        (base / "summary.md").write_text("# Audit\n")
        passphrase = "benchmark passphrase"
        init_identity(work / "keys", common_name="Bench", passphrase=passphrase)
        export_keyring(work / "keys", work / "keyring.json")
        identity = load_identity(work / "keys", passphrase)

        def fresh(tag: str) -> Path:
            folder = work / tag / "v2"
            shutil.copytree(base, folder)
            return folder

        cold_sign = [
            _cold(COLD_SIGN, str(work / "keys"), str(fresh(f"cold{i}")), passphrase)
            for i in range(args.repeat)
        ]
        warm_sign = []
        for i in range(args.repeat + 1):
            folder = fresh(f"warm{i}")
            t0 = time.perf_counter()
            sign_bundle(folder, identity, predicate=predicate_from_report(report))
            warm_sign.append(time.perf_counter() - t0)
        warm_sign = warm_sign[1:]  # the first call pays for importing pyHanko

        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        plain = []
        pdf = (base / "report.pdf").read_bytes()
        signer = signers.SimpleSigner.load(
            str(work / "keys" / "signer.key.pem"),
            str(work / "keys" / "signer.cert.pem"),
            ca_chain_files=(str(work / "keys" / "ca.cert.pem"),),
            key_passphrase=passphrase.encode(),
        )
        assert signer is not None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            meta = signers.PdfSignatureMetadata(
                field_name="Sig", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
            )
            w = IncrementalPdfFileWriter(io.BytesIO(pdf))
            signers.sign_pdf(w, meta, signer=signer, output=io.BytesIO())
            plain.append(time.perf_counter() - t0)

        signed = work / "warm1" / "v2"
        cold_verify = [
            _cold(COLD_VERIFY, str(signed), str(work / "keyring.json")) for _ in range(args.repeat)
        ]
        warm_verify = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            assert verify_bundle(signed, work / "keyring.json").ok
            warm_verify.append(time.perf_counter() - t0)

        med = statistics.median
        size = sum(p.stat().st_size for p in signed.iterdir())
        print(f"bundle: {len(list(signed.iterdir()))} files, {size / 1024:.0f} KiB")
        print(f"render html+pdf (for scale): {render:.3f} s")
        print(f"cold sign (fresh process, imports included): {med(cold_sign):.3f} s")
        print(f"warm sign:                                   {med(warm_sign):.3f} s")
        print(f"plain pyHanko PAdES sign (warm):             {med(plain):.3f} s")
        print(f"  ratio warm sign / plain pyHanko:           {med(warm_sign) / med(plain):.2f}x")
        print(f"cold verify (fresh process):                 {med(cold_verify):.3f} s")
        print(f"warm verify:                                 {med(warm_verify):.3f} s")
        verdict = "OK" if med(cold_sign) < 1.0 else "OVER BUDGET"
        print(f"target: signing adds < 1 s to an audit -> {med(cold_sign):.3f} s {verdict}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
