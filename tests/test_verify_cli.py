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


def test_an_older_version_verifies_and_says_newer_ones_exist(
    signed: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """Verifying an intact v1 after v2 exists said FAILED (exit 3); it now passes and names the
    latest version, and only --latest (the caller asks for the latest) makes it a rollback."""
    ring = ["--keyring", str(signed["keyring"])]
    capsys.readouterr()
    assert main(["verify", str(signed["v1"]), *ring]) == 0
    out = capsys.readouterr().out
    assert "ok:" in out and "this is version 1; newer versions exist (the latest is v2)" in out
    assert main(["verify", str(signed["v1"]), *ring, "--latest"]) == 3
    assert "rollback" in capsys.readouterr().err
    assert main(["verify", str(signed["bundle"]), *ring, "--latest"]) == 0
    assert "newer versions" not in capsys.readouterr().out


def test_verify_takes_the_zip_that_export_makes(
    signed: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit verify` rejected the zip `audit report export` writes; it now verifies it, and
    a zip with a path that climbs out, a link, or two folders is refused (exit 2)."""
    import zipfile

    ring = ["--keyring", str(signed["keyring"])]
    archive = tmp_path / "v2.zip"
    assert main(["report", "export", str(signed["bundle"]), str(archive)]) == 0
    capsys.readouterr()
    assert main(["verify", str(archive), *ring]) == 0
    assert "is intact" in capsys.readouterr().out
    # a tampered member inside the zip is caught like in a folder
    with zipfile.ZipFile(archive) as zf:
        members = {m.filename: zf.read(m) for m in zf.infolist()}
    (folder,) = {name.split("/")[0] for name in members}
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as zf:
        for name, data in members.items():
            zf.writestr(
                name, data.replace(b"german", b"germen", 1) if name.endswith("summary.md") else data
            )
    assert main(["verify", str(tampered), *ring]) == 3
    assert "summary.md" in capsys.readouterr().err
    for bad, why in (
        ({f"{folder}/../../evil": b"x"}, "not a plain file"),
        ({f"{folder}/a.txt": b"x", "other-v1/b.txt": b"y"}, "expected one folder"),
        ({"loose.txt": b"x"}, "not a plain file"),
    ):
        path = tmp_path / "bad.zip"
        path.unlink(missing_ok=True)
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in bad.items():
                zf.writestr(name, data)
        assert main(["verify", str(path), *ring]) == 2
        assert why in capsys.readouterr().err
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo(f"{folder}/report.json")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    assert main(["verify", str(link), *ring]) == 2
    assert not (tmp_path / "evil").exists()


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
