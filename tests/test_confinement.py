"""Confined files (issue #16 part 4): derived names are plain names, and no command reads the
audit home's private parts (keys, log, approvals, RBAC, registry store) for its caller."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from audit.access import current_actor
from audit.cli import main
from audit.errors import InputError
from audit.loaders.mlflow_loader import load_model_uri
from audit.names import check_name
from audit.registry import Registry
from tests.conftest import POLICIES, SAMPLES

GERMAN = SAMPLES / "german"
MODEL = GERMAN / "models" / "german-rf.skops"
DATA = GERMAN / "german_test.csv"


def _rbac(home: Path, roles: list[str]) -> None:
    import yaml

    doc = yaml.safe_load((POLICIES / "rbac.yaml").read_text())
    doc["bindings"]["users"] = {current_actor().user: roles}
    doc["bindings"]["services"] = {}
    (home / "rbac.yaml").write_text(yaml.safe_dump(doc))


def _key_file(home: Path) -> Path:
    assert main(["keys", "init", "--name", "Admin"]) == 0
    key = home / "keys" / "attestation.key.pem"
    assert b"PRIVATE KEY" in key.read_bytes()
    return key


def _last_entry(home: Path) -> dict:
    import json

    db = sqlite3.connect(home / "access.db")
    (body,) = db.execute("SELECT body FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    db.close()
    return json.loads(body)


# --- derived names ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["..", ".", "../x", "a/b", "a\\b", "", ".hidden", "x" * 129])
def test_a_derived_name_must_be_a_plain_name(bad: str) -> None:
    with pytest.raises(InputError, match="not a plain name"):
        check_name(bad, "the system name")


def test_model_file_named_dotdotdot_skops_is_refused_and_nothing_escapes(
    audit_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the stem of ``...skops`` is ``..``, the system name defaulted to it, and the
    bundle went to ``<output>/../v1``: outside the output folder."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(MODEL, models / "...skops")
    spec = tmp_path / "audit.yaml"
    text = (GERMAN / "audit.yaml").read_text().replace("name: german-credit\n", "")
    text = text.replace("models/german-rf.skops", str(models / "...skops"))
    text = text.replace("german_test.csv", str(DATA)).replace("../../policies", str(POLICIES))
    spec.write_text(text.replace("output: ../../reports", "output: out/reports"))
    before = {p.name for p in tmp_path.iterdir()} | {"home"}  # the run opens the access log
    assert main(["run", str(spec), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "not a plain name" in err and "set `name:`" in err and "Traceback" not in err
    assert {p.name for p in tmp_path.iterdir()} <= before  # no out/, no v1/ beside it
    assert not list(tmp_path.rglob("v1"))


@pytest.mark.parametrize(
    ("name", "version"), [("../x", "1"), ("x", "a/b"), ("..", "1"), ("x", "..")]
)
def test_registry_add_refuses_path_names_and_versions(
    audit_home: Path, name: str, version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["registry", "add-model", "--name", name, "--version", version, str(MODEL)]
    assert main(args) == 2
    assert "not a plain" in capsys.readouterr().err
    assert not (audit_home / "objects").exists()
    with pytest.raises(InputError, match="not a plain"):
        Registry(audit_home).add("model", name, version, MODEL, "skops", "alice")


def test_mlflow_model_name_must_be_plain() -> None:
    with pytest.raises(InputError, match="MLflow model name"):
        load_model_uri("models:/../3")


# --- paths a role may read ----------------------------------------------------------------------


def test_viewer_cannot_print_the_private_key_with_policy_init(
    audit_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``policy init`` needed only policy:read and printed the key's lines as the
    dataset's column and values."""
    key = _key_file(audit_home)
    _rbac(audit_home, ["viewer"])
    capsys.readouterr()
    assert main(["policy", "init", "--dataset", str(key)]) == 4
    out, err = capsys.readouterr()
    assert "PRIVATE KEY" not in out + err and "may not 'audit:run'" in err


@pytest.mark.parametrize("via_link", [False, True])
def test_admin_pointing_policy_init_at_a_key_is_refused(
    audit_home: Path, capsys: pytest.CaptureFixture[str], via_link: bool
) -> None:
    key = _key_file(audit_home)
    target = key
    if via_link:
        target = Path("innocent.csv")  # in the working folder, a link into the home
        target.symlink_to(key)
    capsys.readouterr()
    assert main(["policy", "init", "--dataset", str(target)]) == 4
    out, err = capsys.readouterr()
    assert "PRIVATE KEY" not in out + err and "BEGIN" not in out + err
    assert "keys in the audit home" in err
    last = _last_entry(audit_home)
    assert (last["decision"], last["action"]) == ("deny", "audit:run")


def test_a_key_file_outside_the_home_is_not_a_dataset(
    audit_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _key_file(audit_home)
    copy = tmp_path / "elsewhere.pem"
    copy.write_bytes(key.read_bytes())
    capsys.readouterr()
    assert main(["policy", "init", "--dataset", str(copy)]) == 2
    out, err = capsys.readouterr()
    assert "not a CSV/Parquet dataset" in err
    assert "PRIVATE KEY" not in out + err and "BEGIN" not in out + err


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "show", "{home}/rbac.yaml"],
        ["policy", "validate", "{home}/keys/identity.json"],
        ["registry", "add-dataset", "--name", "d", "--version", "1", "{home}/access.db"],
        ["report", "show", "{home}/keys"],
        ["run", "{home}/keys/attestation.key.pem", "--no-pdf"],
        ["run", "{spec}", "--dataset", "{home}/keys/attestation.key.pem", "--no-pdf"],
    ],
)
def test_commands_refuse_paths_into_the_home(
    audit_home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    _key_file(audit_home)
    capsys.readouterr()
    spec = GERMAN / "audit.yaml"
    argv = [a.format(home=audit_home, spec=spec) for a in args]
    assert main(argv) == 4, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert "PRIVATE KEY" not in out + err and "in the audit home" in err
