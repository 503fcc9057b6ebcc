"""`audit keys` and `audit verify` through the CLI: exit 0 when intact, 3 on tampering."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.cli import main
from tests.conftest import SAMPLES

SPEC = SAMPLES / "german" / "audit.yaml"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two signed versions of the German audit in a home of their own: the version numbers and
    the rollback checks depend on the log, which other test files sharing the session's home
    (AUDIT_HOME) would otherwise have written german-credit versions into."""
    root = tmp_path_factory.mktemp("signed")
    keys = root / "keys"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIT_HOME", str(root / "home"))
        assert main(["keys", "init", "--keys", str(keys), "--name", "Test Signer"]) == 0
        for _ in range(2):
            code = main(["run", str(SPEC), "--output", str(root / "out"), "--keys", str(keys)])
            assert code in (0, 1)
        assert main(["keys", "export", "--out", str(root / "keyring.json")]) == 0
        yield {
            "root": root,
            "keys": keys,
            "bundle": root / "out" / "german-credit" / "v2",
            "v1": root / "out" / "german-credit" / "v1",
            "keyring": root / "keyring.json",
        }


def _copy(signed: dict, tmp_path: Path) -> Path:
    dest = tmp_path / "german-credit" / "v2"
    shutil.copytree(signed["bundle"], dest)
    for f in dest.iterdir():
        f.chmod(0o644)
    return dest


def test_fresh_bundle_verifies(signed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert (signed["bundle"] / "attestation.json").is_file()
    assert main(["verify", str(signed["bundle"]), "--keyring", str(signed["keyring"])]) == 0
    assert "is intact" in capsys.readouterr().out


def test_tampered_file_exits_3(
    signed: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _copy(signed, tmp_path)
    data = bytearray((bundle / "report.json").read_bytes())
    data[100] ^= 0x01
    (bundle / "report.json").write_bytes(bytes(data))
    assert main(["verify", str(bundle), "--keyring", str(signed["keyring"])]) == 3
    err = capsys.readouterr().err
    assert "report.json" in err and "Traceback" not in err


def test_untrusted_keyring_exits_3(
    signed: dict,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUDIT_HOME", str(tmp_path / "other-home"))  # another team's home
    assert main(["keys", "init", "--name", "Mallory"]) == 0
    assert main(["keys", "export", "--out", str(tmp_path / "ring.json")]) == 0
    capsys.readouterr()
    assert main(["verify", str(signed["bundle"]), "--keyring", str(tmp_path / "ring.json")]) == 3
    assert "not in the keyring" in capsys.readouterr().err


def test_rollback_exits_3_unless_disabled(signed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(signed["v1"]), "--keyring", str(signed["keyring"])]) == 3
    assert "latest" in capsys.readouterr().err
    assert (
        main(
            [
                "verify",
                str(signed["v1"]),
                "--keyring",
                str(signed["keyring"]),
                "--no-rollback-check",
            ]
        )
        == 0
    )


def test_unsigned_run_and_bad_keyring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SPEC), "--output", str(tmp_path / "o"), "--no-sign", "--no-pdf"]) in (
        0,
        1,
    )
    assert not (tmp_path / "o" / "german-credit" / "v1" / "attestation.json").exists()
    bad = tmp_path / "ring.json"
    bad.write_text("{not json")
    capsys.readouterr()
    code = main(["verify", str(tmp_path / "o" / "german-credit" / "v1"), "--keyring", str(bad)])
    assert code == 2 and "Traceback" not in capsys.readouterr().err
