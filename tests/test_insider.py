"""An insider with an ordinary account attacks the evidence: each attack is caught (exit 3 or 4).

One audit home, real audits of the shipped German credit model through the CLI, real keys. The
attacker can run audits (engineer) and read the home's files; each test performs one attack
that worked before keys per purpose, log anchoring and confined files, and shows it refused:

- an approval signed with the runner's bundle key opened the gate (exit 0); now exit 3;
- a token signed by a key in the caller's ``$AUDIT_KEYRING`` (or by the bundle key) was
  trusted; now exit 4;
- a retired key signing with a back-dated ``signed_at`` verified; now exit 3 (the log's time);
- an older version copied or renamed as current, another system's bundle put in its place, a
  FAIL v1 swapped for another home's PASS v1: all verified; now exit 3;
- the gate opened on an old approved PASS when the newer report was moved away or unreadable;
  now it fails closed (exit 3);
- the bundle writer and ``report export`` followed planted symlinks; now refused (exit 2).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.access import AccessLog, Actor, current_actor, issue_token, key_id
from audit.bundles.bundle import read_report
from audit.cli import main
from audit.contract import Report
from audit.pipeline.anchoring import anchor_bundle
from audit.signing import load_identity, predicate_from_report, sign_bundle
from audit.signing.dsse import sign_envelope
from audit.signing.keys import KeyRecord, read_private_key
from tests.conftest import ROOT, SAMPLES
from tests.helpers import ACCURACY_POLICY

SPEC = SAMPLES / "german" / "audit.yaml"
MODEL = SAMPLES / "german" / "models" / "german-rf.skops"
POLICY = ACCURACY_POLICY


def bind(home: Path, roles: list[str], services: dict[str, list[str]] | None = None) -> None:
    data = yaml.safe_load((ROOT / "policies" / "rbac.yaml").read_text())
    data["bindings"]["users"] = {current_actor().user: roles}
    data["bindings"]["services"] = services or {"ci-bot": ["ci"]}
    (home / "rbac.yaml").write_text(yaml.safe_dump(data))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("insider")
    home, other = root / "home", root / "other-home"
    lenient, strict = root / "lenient.yaml", root / "strict.yaml"
    lenient.write_text(POLICY.format(threshold=0.5))
    strict.write_text(POLICY.format(threshold=0.99))
    reports = root / "reports"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIT_HOME", str(home))
        mp.delenv("AUDIT_TOKEN", raising=False)
        mp.chdir(root)
        assert (
            main(["registry", "add-model", "--name", "german-rf", "--version", "1", str(MODEL)])
            == 0
        )

        def run(policy: Path, *extra: str) -> int:
            args = ["run", str(SPEC), "--model", "german-rf@1", "--policy", str(policy)]
            args += ["--output", str(reports), "--no-pdf", "--explain-sample-size", "20", *extra]
            return main(args)

        # the audits are CI's (a token), so the person who approves did not run them
        bind(home, ["admin"])
        capture = io.StringIO()
        with contextlib.redirect_stdout(capture):
            assert main(["token", "issue", "--user", "ci-bot", "--roles", "ci"]) == 0
        mp.setenv("AUDIT_TOKEN", capture.getvalue().strip())
        assert run(strict, "--name", "german-b") == 1  # german-b v1, FAIL
        assert run(lenient) == 0  # german-credit v1, PASS: the model's latest audit
        mp.delenv("AUDIT_TOKEN")
        bind(home, ["approver"])
        assert main(["approve", str(reports / "german-credit" / "v1")]) == 0
        bind(home, ["admin"])
        assert main(["keys", "export", "--out", str(root / "keyring.json")]) == 0
        # another team's home, where german-b passes: a PASS v1 an attacker could swap in
        mp.setenv("AUDIT_HOME", str(other))
        assert (
            main(
                [
                    "run",
                    str(SPEC),
                    "--policy",
                    str(lenient),
                    "--name",
                    "german-b",
                    "--output",
                    str(root / "other-reports"),
                    "--no-pdf",
                    "--explain-sample-size",
                    "20",
                ]
            )
            == 0
        )
        mp.setenv("AUDIT_HOME", str(home))
        yield {
            "root": root,
            "home": home,
            "reports": reports,
            "other_reports": root / "other-reports",
            "lenient": lenient,
            "keyring": root / "keyring.json",
        }


@pytest.fixture
def as_home(world: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("AUDIT_HOME", str(world["home"]))
    monkeypatch.delenv("AUDIT_TOKEN", raising=False)
    monkeypatch.delenv("AUDIT_KEYRING", raising=False)
    reader(world["home"])
    return world


def reader(home: Path) -> None:
    """Verify, gate and approve, but not run (the approver stays an approver for the gate's
    re-check of who approved)."""
    bind(home, ["approver", "auditor"])


def rerun(world: dict[str, Path]) -> None:
    """One more audit of german-credit (as an engineer), then back to reading."""
    bind(world["home"], ["engineer"])
    args = ["run", str(SPEC), "--model", "german-rf@1", "--policy", str(world["lenient"])]
    args += ["--output", str(world["reports"]), "--no-pdf", "--explain-sample-size", "20"]
    assert main(args) == 0
    reader(world["home"])


def copy_reports(world: dict[str, Path], tmp_path: Path) -> Path:
    dest = tmp_path / "reports"
    shutil.copytree(world["reports"], dest, ignore=shutil.ignore_patterns(".lock"))
    for p in dest.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest


def gate(world: dict[str, Path], reports: Path) -> list[str]:
    return [
        "gate",
        "--model",
        "german-rf@1",
        "--policy",
        str(world["lenient"]),
        "--output",
        str(reports),
    ]


def test_the_honest_path_verifies_and_the_gate_opens(as_home, capsys) -> None:
    v1 = as_home["reports"] / "german-credit" / "v1"
    assert main(["verify", str(v1)]) == 0
    assert "anchored in the access log" in capsys.readouterr().out
    assert main(["verify", str(v1), "--keyring", str(as_home["keyring"])]) == 0
    assert main(gate(as_home, as_home["reports"])) == 0


# -- keys per purpose -------------------------------------------------------------------------


def test_an_approval_signed_with_the_runners_key_does_not_open_the_gate(
    as_home, tmp_path: Path, capsys
) -> None:
    """Before: approvals were signed with the key every run loads, so a runner wrote one."""
    reports = copy_reports(as_home, tmp_path)
    home = as_home["home"]
    real = next((home / "approvals").glob("*.json"))
    saved = real.read_bytes()
    report = read_report(reports / "german-credit" / "v1" / "report.json")
    runner = load_identity(home / "keys")  # readable by whoever runs audits
    payload = json.loads(base64.b64decode(json.loads(saved)["payload"]))
    payload["approved_by"] = "mallory"
    envelope = sign_envelope(
        json.dumps(payload, sort_keys=True).encode(),
        "application/vnd.audit.approval+json",
        [(runner.attestation_key, runner.keyid)],
    )
    try:
        real.chmod(0o644)
        real.write_text(json.dumps(envelope))
        capsys.readouterr()
        assert main(gate(as_home, reports)) == 3
        assert "not signed by an approver's key" in capsys.readouterr().err
    finally:
        real.write_bytes(saved)
    assert report.outcome == "pass" and main(gate(as_home, reports)) == 0
    # the approver loses the approver role: their approval no longer opens the gate
    bind(home, ["auditor"])
    capsys.readouterr()
    assert main(gate(as_home, reports)) == 3
    assert "does not allow" in capsys.readouterr().err
    reader(home)


def test_a_token_trusted_through_the_callers_keyring_is_refused(
    as_home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Before: $AUDIT_KEYRING's keys were trusted for tokens, so a caller minted their own."""
    bind(as_home["home"], ["viewer"], services={"ci-bot": ["ci"]})
    mine = Ed25519PrivateKey.generate()
    now = datetime.now(UTC).replace(microsecond=0)
    record = KeyRecord(
        key_id(mine), mine.public_key(), now - timedelta(days=1), now + timedelta(days=9)
    )
    ring = tmp_path / "my-ring.json"
    doc = {"keys": [{**record.to_json(), "purpose": "token"}], "pdf_roots": [], "pdf_signers": []}
    ring.write_text(json.dumps(doc))
    monkeypatch.setenv("AUDIT_KEYRING", str(ring))
    token = issue_token(mine, subject="ci-bot", roles=["ci"], expires_in=timedelta(hours=1))
    monkeypatch.setenv("AUDIT_TOKEN", token)
    capsys.readouterr()
    assert main(["registry", "list"]) == 4
    assert "not in the trusted keyring" in capsys.readouterr().err
    # nor does the bundle key (which every runner can read) sign tokens
    runner = load_identity(as_home["home"] / "keys")
    monkeypatch.setenv(
        "AUDIT_TOKEN",
        issue_token(
            runner.attestation_key, subject="ci-bot", roles=["ci"], expires_in=timedelta(hours=1)
        ),
    )
    assert main(["registry", "list"]) == 4
    # a token from the home's token key works
    monkeypatch.delenv("AUDIT_TOKEN")
    bind(as_home["home"], ["admin"], services={"ci-bot": ["ci"]})
    capsys.readouterr()
    assert main(["token", "issue", "--user", "ci-bot", "--roles", "ci", "--expires", "1h"]) == 0
    monkeypatch.setenv("AUDIT_TOKEN", capsys.readouterr().out.strip())
    assert main(["registry", "list"]) == 0


# -- time from the log ------------------------------------------------------------------------


def test_a_back_dated_signature_by_a_retired_key_fails(as_home, tmp_path: Path, capsys) -> None:
    """Before: the signer wrote its own signed_at, so a retired key signed 'in the past'."""
    home = as_home["home"]
    stolen = tmp_path / "stolen-keys"
    shutil.copytree(home / "keys", stolen, ignore=shutil.ignore_patterns("approvers"))
    old = load_identity(stolen)
    bind(home, ["admin"])
    assert main(["keys", "rotate"]) == 0
    reader(home)
    reports = copy_reports(as_home, tmp_path)
    src = reports / "german-credit" / "v1"
    log = AccessLog(home / "access.db")
    logged = [
        e for e in log.entries_with_action("report:publish") if e.details["name"] == "german-credit"
    ]
    version = max(e.details["version"] for e in logged) + 1
    forged = reports / "german-credit" / f"v{version}"
    forged.mkdir()
    for name in ("report.html", "junit.xml", "summary.md"):
        if (src / name).exists():
            shutil.copy(src / name, forged / name)
    doc = json.loads((src / "report.json").read_text())
    doc["version"] = version
    doc["previous"] = "sha256:" + logged[-1].details["report_sha256"]
    typed = Report.model_validate(doc)
    (forged / "report.json").write_bytes(typed.to_bytes())
    sign_bundle(
        forged,
        old,
        predicate=predicate_from_report(typed),
        now=old.attestation.not_before + timedelta(minutes=1),
    )
    # even an attacker who can append to the log (here: with the log key itself) gains nothing
    anchor_bundle(
        forged,
        typed,
        log,
        read_private_key(home / "keys" / "log.key.pem", None),
        Actor("mallory", 1),
        "00" * 32,
        old.keyid,
    )
    capsys.readouterr()
    assert main(["verify", str(forged)]) == 3
    assert "back-dated" in capsys.readouterr().err


# -- versions anchored in the log -------------------------------------------------------------


def test_an_older_version_copied_or_renamed_as_current_fails(
    as_home, tmp_path: Path, capsys
) -> None:
    reports = copy_reports(as_home, tmp_path)
    system = reports / "german-credit"
    versions = sorted(int(p.name[1:]) for p in system.iterdir() if p.name.startswith("v"))
    latest = versions[-1]
    # copied: v1 presented as the next version
    shutil.copytree(system / "v1", system / f"v{latest + 1}")
    assert main(["verify", str(system / f"v{latest + 1}")]) == 3
    shutil.rmtree(system / f"v{latest + 1}")
    if latest > 1:
        # renamed: the newer versions deleted, so v1 is the latest in the folder
        for v in versions[1:]:
            shutil.rmtree(system / f"v{v}")
    capsys.readouterr()
    status = main(["verify", str(system / "v1"), "--latest"])
    if latest > 1:
        assert status == 3 and "rollback" in capsys.readouterr().err
    # without --latest an intact older version verifies, and says newer ones exist
    assert main(["verify", str(system / "v1")]) == 0
    if latest > 1:
        assert f"newer versions exist (the latest is v{latest})" in capsys.readouterr().out


def test_a_newer_version_in_the_log_makes_an_older_one_a_rollback(
    as_home, tmp_path: Path, capsys
) -> None:
    """Before: only the folder was scanned, so deleting v2 made v1 'the latest'."""
    rerun(as_home)
    reports = copy_reports(as_home, tmp_path)
    system = reports / "german-credit"
    for p in system.iterdir():
        if p.name != "v1":
            shutil.rmtree(p)
    capsys.readouterr()
    assert main(["verify", str(system / "v1"), "--latest"]) == 3
    err = capsys.readouterr().err
    assert "rollback" in err and "--latest" in err
    # asked about v1 itself: intact, and the log's later version is named
    assert main(["verify", str(system / "v1")]) == 0
    assert "newer versions exist (the latest is v" in capsys.readouterr().out


def test_another_systems_bundle_put_in_place_fails(as_home, tmp_path: Path, capsys) -> None:
    reports = copy_reports(as_home, tmp_path)
    target = reports / "german-credit" / "v1"
    shutil.rmtree(target)
    shutil.copytree(reports / "german-b" / "v1", target)
    capsys.readouterr()
    assert main(["verify", str(target)]) == 3
    assert "substituted" in capsys.readouterr().err


def test_a_fail_v1_swapped_for_another_homes_pass_v1_fails(as_home, tmp_path: Path, capsys) -> None:
    reports = copy_reports(as_home, tmp_path)
    target = reports / "german-b" / "v1"
    assert read_report(target / "report.json").outcome == "fail"
    shutil.rmtree(target)
    shutil.copytree(as_home["other_reports"] / "german-b" / "v1", target)
    assert read_report(target / "report.json").outcome == "pass"
    capsys.readouterr()
    assert main(["verify", str(target)]) == 3
    assert main(["verify", str(target), "--keyring", str(as_home["keyring"])]) == 3


def test_the_gate_fails_closed_when_the_latest_report_is_moved_or_unreadable(
    as_home, tmp_path: Path, capsys
) -> None:
    """Before: the gate scanned folders and skipped what it could not read, so moving the newer
    report away reopened the gate on the old approved one."""
    rerun(as_home)
    reports = copy_reports(as_home, tmp_path)
    system = reports / "german-credit"
    latest = max(int(p.name[1:]) for p in system.iterdir())
    assert latest > 1
    moved = tmp_path / "elsewhere"
    shutil.move(system / f"v{latest}", moved)
    capsys.readouterr()
    assert main(gate(as_home, reports)) == 3
    assert "missing or unreadable" in capsys.readouterr().err
    shutil.move(moved, system / f"v{latest}")
    (system / f"v{latest}" / "report.json").write_text("{not json")
    assert main(gate(as_home, reports)) == 3


def test_an_edited_trust_configuration_is_refused(as_home, capsys) -> None:
    home = as_home["home"]
    trust = home / "trust.json"
    saved = trust.read_bytes()
    try:
        doc = json.loads(saved)
        doc["signatures"][0]["sig"] = doc["signatures"][0]["sig"][::-1]
        trust.write_text(json.dumps(doc))
        capsys.readouterr()
        assert main(["verify", str(as_home["reports"] / "german-credit" / "v1")]) == 3
        assert "trust" in capsys.readouterr().err
    finally:
        trust.write_bytes(saved)


# -- confined files ---------------------------------------------------------------------------


def test_export_and_the_writer_refuse_planted_symlinks(as_home, tmp_path: Path, capsys) -> None:
    reports = copy_reports(as_home, tmp_path)
    bundle = reports / "german-credit" / "v1"
    (bundle / "summary.md").unlink()
    (bundle / "summary.md").symlink_to(as_home["home"] / "keys" / "log.key.pem")
    capsys.readouterr()
    assert main(["report", "export", str(bundle), str(tmp_path / "out.zip")]) == 2
    assert not (tmp_path / "out.zip").exists()
    captured = capsys.readouterr()
    assert "not a regular file" in captured.err and "PRIVATE KEY" not in captured.out
    # a bundle folder that is itself a link is neither verified nor exported
    (tmp_path / "linked" / "german-credit").mkdir(parents=True)
    linked = tmp_path / "linked" / "german-credit" / "v1"
    linked.symlink_to(as_home["reports"] / "german-credit" / "v1")
    assert main(["verify", str(linked)]) == 2
    assert main(["report", "export", str(linked), str(tmp_path / "l.zip")]) == 2
    assert "symbolic link" in capsys.readouterr().err
    # the system's folder replaced by a link into the home: nothing is written through it
    out = tmp_path / "planted"
    out.mkdir()
    (out / "german-credit").symlink_to(as_home["home"])

    def listing() -> list[str]:  # SQLite's own -wal/-shm files come and go
        return sorted(
            p.name for p in as_home["home"].iterdir() if p.suffix[-4:] not in ("-wal", "-shm")
        )

    before = listing()
    bind(as_home["home"], ["engineer"])
    assert (
        main(
            [
                "run",
                str(SPEC),
                "--model",
                "german-rf@1",
                "--policy",
                str(as_home["lenient"]),
                "--output",
                str(out),
                "--no-pdf",
                "--explain-sample-size",
                "20",
            ]
        )
        == 2
    )
    assert listing() == before


def test_concurrent_audits_of_one_system_publish_a_chain_that_verifies(
    as_home, tmp_path: Path, capsys
) -> None:
    """Three audits at once (real processes): each gets its own version, each pins the version
    before it as the log records it, and every one verifies (before: the predecessor was read
    before the lock, so two of them pinned the same one and never verified)."""
    import os
    import subprocess
    import sys

    bind(as_home["home"], ["engineer"])
    out = tmp_path / "reports"
    args = [sys.executable, "-m", "audit", "run", str(SPEC), "--model", "german-rf@1"]
    args += ["--policy", str(as_home["lenient"]), "--output", str(out), "--no-pdf"]
    args += ["--explain-sample-size", "20", "-q"]
    env = {**os.environ, "AUDIT_HOME": str(as_home["home"])}
    procs = [subprocess.Popen(args, env=env, cwd=tmp_path) for _ in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    reader(as_home["home"])
    versions = sorted(int(p.name[1:]) for p in (out / "german-credit").glob("v*"))
    assert len(versions) == 3
    for v in versions:
        assert main(["verify", str(out / "german-credit" / f"v{v}")]) == 0


def test_deep_or_garbled_log_files_are_refused_with_a_reason(
    as_home, tmp_path: Path, capsys
) -> None:
    """Before: 100,000 nested brackets in a log export were an internal error (exit 5)."""
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    v1 = as_home["reports"] / "german-credit" / "v1"
    capsys.readouterr()
    assert main(["verify", str(v1), "--log", str(deep)]) in (2, 3)
    assert main(["log", "verify", "--checkpoint", str(deep)]) in (2, 3)
    err = capsys.readouterr().err
    assert "internal error" not in err and "deep" in err
    # a proof of the wrong shape in a bundle
    reports = copy_reports(as_home, tmp_path)
    bundle = reports / "german-credit" / "v1"
    (bundle / "log-proof.json").write_text("[" * 5000 + "]" * 5000)
    assert main(["verify", str(bundle)]) == 3
    assert "log-proof.json" in capsys.readouterr().err
