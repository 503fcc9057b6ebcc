"""Confined file access attacked: planted symlinks, swapped folders, FIFOs, oversized files.

Each test plants what an attacker with write access to a folder the tool uses would plant, and
checks that the read is refused or that the write lands beside the plant instead of through it
(the target the link points at keeps its bytes).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from audit.errors import InputError
from audit.safefs import (
    check_private_dir,
    create_file,
    is_plain_dir,
    is_plain_file,
    locked,
    open_regular,
    private_tempdir,
    read_file,
    unlinked_components,
    write_file,
)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.key.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nabc\n")
    return path


def test_reading_refuses_a_symlink_a_linked_folder_and_what_is_not_a_file(
    tmp_path: Path, secret: Path
) -> None:
    root = tmp_path / "templates"
    root.mkdir()
    (root / "ok.html").write_text("fine")
    assert read_file(root / "ok.html", root=root) == b"fine"
    (root / "report.html").symlink_to(secret)
    with pytest.raises(InputError, match="symbolic link"):
        read_file(root / "report.html")
    # a link one folder up: the file itself is regular, a component below the root is not
    (root / "sub").symlink_to(tmp_path)
    assert unlinked_components(root / "sub" / "secret.key.pem", root)
    with pytest.raises(InputError, match="symbolic link"):
        read_file(root / "sub" / "secret.key.pem", root=root)
    with pytest.raises(InputError, match="folder"):
        read_file(root)
    os.mkfifo(root / "pipe")  # a plain open() would block; O_NOFOLLOW open + fstat refuses it
    with pytest.raises(InputError, match="not a regular file"):
        read_file(root / "pipe")
    with pytest.raises(InputError, match="does not exist"):
        read_file(root / "missing")
    assert not is_plain_file(root / "report.html") and not is_plain_dir(root / "sub")


def test_reading_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(InputError, match="more than the limit of 1,000"):
        read_file(big, limit=1000)
    with open_regular(big, limit=2000) as fh:
        assert len(fh.read()) == 1001


def test_writing_replaces_a_planted_link_instead_of_writing_through_it(
    tmp_path: Path, secret: Path
) -> None:
    before = secret.read_bytes()
    dest = tmp_path / "report.json"
    dest.symlink_to(secret)
    write_file(dest, b"{}", mode=0o600)
    assert secret.read_bytes() == before  # the link's target is untouched
    assert is_plain_file(dest) and dest.read_bytes() == b"{}"
    assert stat.S_IMODE(os.lstat(dest).st_mode) == 0o600
    assert not list(tmp_path.glob(".report.json.*.tmp"))  # no partial left behind
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        write_file(tmp_path / "folder", b"x")


def test_create_only_refuses_an_existing_name_and_a_dangling_link(
    tmp_path: Path, secret: Path
) -> None:
    create_file(tmp_path / "new.txt", "one")
    with pytest.raises(InputError, match="already exists"):
        create_file(tmp_path / "new.txt", "two")
    assert (tmp_path / "new.txt").read_text() == "one"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "x")
    with pytest.raises(InputError, match="already exists"):
        create_file(tmp_path / "dangling", "x")
    assert not (tmp_path / "nowhere").exists()


def test_private_temp_folders_are_0700_and_a_swapped_one_is_refused(
    tmp_path: Path, secret: Path
) -> None:
    folder = private_tempdir(tmp_path)
    assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700
    check_private_dir(folder)
    folder.rmdir()
    folder.symlink_to(tmp_path)  # swapped for a link after it was made
    with pytest.raises(InputError, match="not a folder"):
        check_private_dir(folder)
    opened = tmp_path / "opened"
    opened.mkdir(mode=0o755)
    opened.chmod(0o755)
    with pytest.raises(InputError, match="not private"):
        check_private_dir(opened)


def test_a_lock_file_planted_as_a_link_is_refused(tmp_path: Path, secret: Path) -> None:
    before = secret.read_bytes()
    (tmp_path / ".lock").symlink_to(secret)
    with pytest.raises(InputError, match="symbolic link"), locked(tmp_path / ".lock"):
        pass
    assert secret.read_bytes() == before
    with locked(tmp_path / "real.lock"):
        assert is_plain_file(tmp_path / "real.lock")
