"""Report rendering speed and memory: the Adult bundle, and a report with 200 groups.

Prints the time to render report.html + report.pdf from report.json and the peak memory of the
rendering process, against the targets of issue 6 (Adult under 5 s; 200 groups under 30 s and
1 GiB). The 200-group case is run as the issue states it (one feature with 200 groups) and as a
harder one (that feature, a second one and their 400-group intersection: three times the rows).
Each case runs in a fresh child process so its peak memory is its own.

    python benchmarks/bench_report.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, resource, sys, time
from pathlib import Path
from audit.report import render_html, render_pdf
report = json.loads(Path(sys.argv[1]).read_text())
t0 = time.perf_counter()
html = render_html(report)
t1 = time.perf_counter()
pdf = render_pdf(html)
t2 = time.perf_counter()
import pypdf, io
pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"html_s": t1 - t0, "pdf_s": t2 - t1, "pages": pages, "peak_mib": peak}))
"""


def audit(spec: Path, out: Path, env: dict[str, str]) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "audit",
            "run",
            str(spec),
            "--output",
            str(out),
            "--no-pdf",
            "--no-sign",
            "-q",
        ],
        env=env,
        check=False,
    )
    return next(out.glob("*/v1/report.json"))


def measure(report_json: Path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(report_json)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    env = dict(os.environ, AUDIT_HOME=str(tmp / "home"), PYTHONPATH=str(ROOT))
    adult = audit(ROOT / "samples" / "adult" / "audit.yaml", tmp / "adult", env)

    rng = np.random.default_rng(0)
    n = 60_000
    groups = np.array([f"group-{i:03d}" for i in range(200)])[rng.integers(0, 200, n)]
    rate = 0.2 + 0.3 * (np.char.str_len(groups) % 7) / 7
    frame = pd.DataFrame({"g": groups, "region": rng.choice(["north", "south"], n)})
    frame["hired"] = (rng.random(n) < 0.3).astype(int)
    frame["decision"] = (rng.random(n) < rate + rng.normal(0, 0.05, n)).astype(int)
    frame.to_csv(tmp / "many.csv", index=False)
    spec = tmp / "many.yaml"
    spec.write_text(
        f"name: many-groups\ndataset: {tmp / 'many.csv'}\nlabel: hired\npositive_label: 1\n"
        f"sensitive_features: [g, region]\npredictions: decision\n"
        f"policy: {ROOT / 'policies' / 'four-fifths.yaml'}\n"
    )
    many = audit(spec, tmp / "many", env)
    # the case: one sensitive feature with 200 groups
    spec_one = tmp / "one.yaml"
    spec_one.write_text(
        spec.read_text()
        .replace("name: many-groups", "name: one-feature")
        .replace("[g, region]", "[g]")
    )
    one = audit(spec_one, tmp / "one", env)

    for name, path, target_s in (
        ("Adult bundle", adult, 5.0),
        ("200 groups, one feature", one, 30.0),
        ("200 x 2 groups + 400 intersections", many, 30.0),
    ):
        m = measure(path, env)
        total = m["html_s"] + m["pdf_s"]
        print(
            f"{name:<36} html {m['html_s']:6.2f} s  pdf {m['pdf_s']:6.2f} s  total {total:6.2f} s "
            f"(target < {target_s:.0f} s: {total / target_s:.2f} of it)  {m['pages']} pages  "
            f"peak {m['peak_mib']:.0f} MiB (target < 1024 MiB)"
        )


if __name__ == "__main__":
    main()
