"""Read once (issue #16 part 5): the bytes that are hashed are the bytes that are loaded.

Before: the runner hashed the model/dataset path (sha256_file) and the loader opened the path
again, so a file swapped between the two reads was audited under the good file's digest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from audit.access import current_actor
from audit.errors import InputError, IntegrityError
from audit.loaders import load_model
from audit.readonce import Copied, PrivateCopies
from audit.registry import Registry
from audit.runner import run_audit
from audit.spec import load_spec
from tests.conftest import SAMPLES

GERMAN = SAMPLES / "german"
MODEL = GERMAN / "models" / "german-rf.skops"
OTHER = SAMPLES / "adult" / "models" / "adult-logreg.skops"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_source_swapped_after_the_copy_does_not_reach_the_loader(tmp_path: Path) -> None:
    source = tmp_path / "model.skops"
    shutil.copyfile(MODEL, source)
    good = MODEL.read_bytes()
    with PrivateCopies(tmp_path) as copies:
        copied = copies.copy(source)
        shutil.copyfile(OTHER, source)  # the swap, after hashing
        loaded = load_model(copied.path, copied.sha256)
        assert copied.sha256 == _sha(good) == loaded.sha256
        assert copied.path.read_bytes() == good  # what was loaded is what was hashed
        assert loaded.feature_names == load_model(MODEL).feature_names
        folder = copies.folder
        assert (os.stat(folder).st_mode & 0o077) == 0
    assert not folder.exists(), "the private copies are removed"


def test_a_symlinked_source_is_not_followed(tmp_path: Path) -> None:
    link = tmp_path / "model.skops"
    link.symlink_to(MODEL)
    with PrivateCopies(tmp_path) as copies, pytest.raises(InputError, match="symbolic link"):
        copies.copy(link)


def test_a_registry_object_replaced_by_a_link_is_an_integrity_failure(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "home")
    art = reg.add("model", "german", "1", MODEL, "skops", "alice")
    stored = reg.objects / art.sha256
    stored.unlink()
    stored.symlink_to(OTHER)
    with PrivateCopies(tmp_path) as copies, pytest.raises(IntegrityError, match="not a regular"):
        reg.copy_out(art, copies)


def _resolved(tmp_path: Path, model: Path, dataset: Path):  # type: ignore[no-untyped-def]
    spec = tmp_path / "audit.yaml"
    text = (GERMAN / "audit.yaml").read_text()
    text = text.replace("models/german-rf.skops", str(model)).replace(
        "german_test.csv", str(dataset)
    )
    text = text.replace("../../policies", str(SAMPLES.parent / "policies"))
    spec.write_text(text + "\n")
    return load_spec(spec, {"explain_sample_size": 40})


def test_end_to_end_a_swap_after_hashing_is_not_audited(tmp_path: Path) -> None:
    """The model and the dataset are each replaced at their path right after their copy is
    hashed (``on_artifact`` runs between copying and loading: where the old code hashed the
    path and then opened it again). The report describes, and the audit measured, the bytes
    that were hashed: the good model and all rows of the good dataset."""
    model = tmp_path / "model.skops"
    dataset = tmp_path / "data.csv"
    shutil.copyfile(MODEL, model)
    shutil.copyfile(GERMAN / "german_test.csv", dataset)
    good_model, good_data = model.read_bytes(), dataset.read_bytes()
    half = b"".join(good_data.splitlines(keepends=True)[:150])
    seen: list[str] = []

    def swap(role: str, copied: Copied) -> None:
        seen.append(role)
        if role == "model":
            shutil.copyfile(OTHER, model)
        elif role == "dataset":
            dataset.write_bytes(half)

    resolved = _resolved(tmp_path, model, dataset)
    result = run_audit(resolved, actor=current_actor(), on_artifact=swap)
    assert seen == ["model", "dataset"]
    subject = result.subject
    assert subject.model is not None
    assert subject.model.sha256 == _sha(good_model)
    assert subject.dataset.sha256 == _sha(good_data)
    assert subject.dataset.rows == len(good_data.splitlines()) - 1  # every row, not 149
    # the same numbers as an audit of the untouched files
    shutil.copyfile(MODEL, model)
    dataset.write_bytes(good_data)
    clean = run_audit(_resolved(tmp_path, model, dataset), actor=current_actor())
    assert result.performance == clean.performance
    assert result.fairness == clean.fairness
