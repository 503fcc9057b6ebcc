"""Registry: content-addressed copies, metadata, and digest re-checks that catch tampering.

The registry tests run on both backends (the ``database`` fixture: ``<home>/registry.db``, or
a fresh PostgreSQL database); the artifact bytes are under ``<home>/objects/`` either way.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit.digest import sha256_file
from audit.errors import InputError, IntegrityError
from audit.registry import Registry


def test_add_get_list_and_digest(tmp_path: Path, database: str | None) -> None:
    src = tmp_path / "data.csv"
    src.write_text("a,b\n1,2\n")
    reg = Registry(tmp_path / "home", database)
    art = reg.add("dataset", "d", "1", src, "csv", "alice", {"description": "toy"})
    assert art.sha256 == sha256_file(src)
    stored = reg.path_of(reg.get("dataset", "d", "1"))
    assert stored.read_bytes() == src.read_bytes() and stored != src
    assert not os.access(stored, os.W_OK) or os.getuid() == 0  # read-only (root ignores modes)
    assert [a.ref for a in reg.list()] == ["d@1"]
    assert reg.get("dataset", "d", "1").metadata == {"description": "toy"}
    src.write_text("changed\n")  # the registered copy is independent of the original
    assert sha256_file(reg.path_of(art)) == art.sha256


def test_versions_are_never_reused(tmp_path: Path, database: str | None) -> None:
    src = tmp_path / "f.csv"
    src.write_text("a\n1\n")
    reg = Registry(tmp_path / "home", database)
    reg.add("dataset", "d", "1", src, "csv", "alice")
    with pytest.raises(InputError, match="already registered"):
        reg.add("dataset", "d", "1", src, "csv", "alice")


def test_unknown_entry_lists_what_exists(tmp_path: Path, database: str | None) -> None:
    src = tmp_path / "f.csv"
    src.write_text("a\n1\n")
    reg = Registry(tmp_path / "home", database)
    reg.add("dataset", "d", "1", src, "csv", "alice")
    with pytest.raises(InputError, match=r"no dataset d@2 .*registered datasets: d@1"):
        reg.get("dataset", "d", "2")


def test_altered_stored_bytes_are_caught(tmp_path: Path, database: str | None) -> None:
    src = tmp_path / "f.csv"
    src.write_text("a\n1\n")
    reg = Registry(tmp_path / "home", database)
    art = reg.add("dataset", "d", "1", src, "csv", "alice")
    stored = reg.objects / art.sha256
    stored.chmod(0o644)
    stored.write_text("a\n2\n")
    with pytest.raises(IntegrityError, match="altered after registration"):
        reg.path_of(art)
    stored.unlink()
    with pytest.raises(IntegrityError, match="is missing"):
        reg.path_of(art)


def test_the_table_is_in_the_database_the_bytes_under_home(tmp_path: Path, database) -> None:
    """On PostgreSQL no registry.db is written; a second Registry (another process of the
    service) sees what the first registered."""
    src = tmp_path / "m.csv"
    src.write_text("a\n1\n")
    with Registry(tmp_path / "home", database) as reg:
        art = reg.add("model", "m", "1", src, "csv", "alice", {"owner": "risk"})
    assert (tmp_path / "home" / "registry.db").exists() == (database is None)
    assert (tmp_path / "home" / "objects" / "sha256" / art.sha256).is_file()
    with Registry(tmp_path / "home", database) as again:
        assert again.get("model", "m", "1") == art
        assert [a.ref for a in again.list("model")] == ["m@1"] and again.list("dataset") == []


@pytest.mark.parametrize("kind", ["csv header only", "csv blank lines", "parquet no rows"])
def test_a_dataset_without_rows_is_not_registered(
    kind: str, tmp_path: Path, audit_home, capsys
) -> None:
    """Before: `registry add-dataset` registered a header-only file, and every audit of it
    then failed. Now: exit 2 naming the file, and nothing is registered."""
    import pandas as pd

    from audit.cli.app import main

    if kind == "parquet no rows":
        data = tmp_path / "empty.parquet"
        pd.DataFrame({"a": pd.Series(dtype=float), "b": pd.Series(dtype=str)}).to_parquet(data)
    else:
        data = tmp_path / "empty.csv"
        data.write_text("a,b\n" + ("\n  \n" if kind == "csv blank lines" else ""))
    args = ["registry", "add-dataset", "--name", "empty", "--version", "1", str(data)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"dataset {data} has no data rows" in err and "Traceback" not in err
    assert main(["registry", "list"]) == 0
    assert "empty@1" not in capsys.readouterr().out
    data.write_text("a,b\n1,x\n")
    if kind != "parquet no rows":
        assert main(args) == 0


def test_registry_show_finds_a_dataset_without_being_told_its_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`registry show NAME@V` looked among models only and told a user who had registered a
    dataset to register it as a model; it now looks among both."""
    import json as _json

    from audit.cli.app import main

    monkeypatch.setenv("AUDIT_HOME", str(tmp_path / "home"))
    data = tmp_path / "d.csv"
    data.write_text("y,sex\n1,F\n0,M\n", "utf-8")
    assert main(["registry", "add-dataset", str(data), "--name", "d", "--version", "1"]) == 0
    capsys.readouterr()
    assert main(["registry", "show", "d@1"]) == 0
    shown = _json.loads(capsys.readouterr().out)
    assert shown["kind"] == "dataset" and shown["name"] == "d"
    assert main(["registry", "show", "e@1"]) == 2
    err = capsys.readouterr().err
    assert "no model or dataset e@1" in err and "datasets: d@1" in err
    assert "add-model" in err and "add-dataset" in err
    assert main(["registry", "show", "d@1", "--kind", "model"]) == 2
