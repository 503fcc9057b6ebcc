"""Access control through the CLI: deny by default (exit 4), every decision logged, tokens, log verify."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from audit.access import current_actor
from audit.cli import main
from tests.conftest import SAMPLES

SPEC = SAMPLES / "german" / "audit.yaml"


def _rbac(
    home: Path, users: dict[str, list[str]], services: dict[str, list[str]] | None = None
) -> None:
    """An RBAC file from the shipped default with the given bindings."""
    import yaml

    default = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "policies" / "rbac.yaml").read_text()
    )
    default["bindings"]["users"] = users
    default["bindings"]["services"] = services or {}
    home.mkdir(parents=True, exist_ok=True)
    (home / "rbac.yaml").write_text(yaml.safe_dump(default))


def _entries(home: Path) -> list[dict]:
    db = sqlite3.connect(home / "access.db")
    rows = [json.loads(b) for (b,) in db.execute("SELECT body FROM entries ORDER BY seq")]
    db.close()
    return rows


def test_first_use_binds_the_os_account_as_admin(
    audit_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "list"]) == 0
    assert "bound OS account" in capsys.readouterr().err
    entries = _entries(audit_home)
    # the bootstrap, the trust configuration (admin, log and token keys) it creates, the command
    assert [e["action"] for e in entries] == ["rbac:admin", "keys:trust", "registry:read"]
    assert entries[1]["details"]["serial"] == 1 and "admin_public_key" in entries[1]["details"]
    assert all(e["decision"] == "allow" for e in entries)


def test_denied_command_exits_4_names_the_permission_and_is_logged(
    audit_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    me = current_actor().user
    _rbac(audit_home, {me: ["viewer"]})
    out = tmp_path / "out"
    assert main(["run", str(SPEC), "--output", str(out), "--no-pdf"]) == 4
    err = capsys.readouterr().err
    assert "may not 'audit:run'" in err and "Traceback" not in err
    assert not out.exists(), "nothing is touched before the permission check"
    last = _entries(audit_home)[-1]
    assert (last["action"], last["decision"], last["actor"]) == ("audit:run", "deny", me)
    assert last["resource"].startswith("model:")
    assert main(["registry", "list"]) == 0  # viewer may read


def test_user_env_spoofing_changes_nothing(
    audit_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _rbac(audit_home, {"alice-admin": ["admin"]})  # nobody real is bound
    monkeypatch.setenv("USER", "alice-admin")
    monkeypatch.setenv("LOGNAME", "alice-admin")
    assert main(["registry", "list"]) == 4
    assert _entries(audit_home)[-1]["actor"] == current_actor().user != "alice-admin"


def test_unknown_user_is_denied_by_default(audit_home: Path) -> None:
    _rbac(audit_home, {})
    assert main(["policy", "schema"]) == 4
    assert _entries(audit_home)[-1]["decision"] == "deny"


def test_service_token_acts_as_its_service(
    audit_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    me = current_actor().user
    _rbac(audit_home, {me: ["admin"]}, services={"ci-bot": ["ci"]})
    assert main(["keys", "init", "--name", "Admin"]) == 0
    capsys.readouterr()
    assert main(["token", "issue", "--user", "ci-bot", "--roles", "ci", "--expires", "1h"]) == 0
    token = capsys.readouterr().out.strip()
    monkeypatch.setenv("AUDIT_TOKEN", token)
    assert main(["registry", "list"]) == 0
    assert _entries(audit_home)[-1]["actor"] == "ci-bot"
    assert (
        main(["keys", "export", "--out", str(tmp_path / "k.json")]) == 4
    )  # ci may not manage keys
    monkeypatch.setenv(
        "AUDIT_TOKEN", token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    )
    assert main(["registry", "list"]) == 4  # a forged token is refused, and logged
    assert _entries(audit_home)[-1]["decision"] == "deny"


def test_log_show_export_verify_and_tamper(
    audit_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "init", "--name", "Admin"]) == 0
    assert main(["run", str(SPEC), "--output", str(tmp_path / "o"), "--no-pdf"]) in (0, 1)
    capsys.readouterr()
    assert main(["log", "show", "--action", "audit:*"]) == 0
    assert "audit:run" in capsys.readouterr().out
    export = tmp_path / "log.jsonl"
    assert main(["log", "export", str(export)]) == 0
    assert main(["log", "verify", "--checkpoint", str(export)]) == 0
    attestation = tmp_path / "o" / "german-credit" / "v1" / "attestation.json"
    assert main(["log", "verify", "--checkpoint", str(attestation)]) == 0
    # tamper: edit one stored entry behind the log's back
    db = sqlite3.connect(audit_home / "access.db")
    triggers = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
    for name in triggers:
        db.execute(f"DROP TRIGGER {name}")
    seq, body = db.execute("SELECT seq, body FROM entries ORDER BY seq LIMIT 1 OFFSET 1").fetchone()
    db.execute(
        "UPDATE entries SET body=? WHERE seq=?", (bytes(body).replace(b"allow", b"deny "), seq)
    )
    db.commit()
    db.close()
    capsys.readouterr()
    assert main(["log", "verify", "--checkpoint", str(export)]) == 3
    assert f"first bad entry: {seq}" in capsys.readouterr().err


def test_token_issue_refuses_a_role_the_service_does_not_hold(
    audit_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`token issue --roles approver` signed a token for a role nobody had bound to the service,
    a token that could never act; it is now refused (exit 2) naming the roles it does hold."""
    me = current_actor().user
    _rbac(audit_home, {me: ["admin"]}, services={"ci-bot": ["ci"]})
    capsys.readouterr()
    assert main(["token", "issue", "--user", "ci-bot", "--roles", "ci,approver"]) == 2
    err = capsys.readouterr().err
    assert "service 'ci-bot' holds no role 'approver'" in err and "(its roles: ci)" in err
    assert main(["token", "issue", "--user", "nobody-bound", "--roles", "ci"]) == 2
    assert "(its roles: none)" in capsys.readouterr().err
    assert main(["token", "issue", "--user", "ci-bot", "--roles", "ci"]) == 0
