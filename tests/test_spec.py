"""Audit spec: strict keys, path resolution, flag overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.errors import InputError
from audit.spec import load_spec

BASE = """\
name: demo
model: models/m.skops
dataset: data.csv
label: y
positive_label: 1
sensitive_features: [sex]
policy: ../policies/p.yaml
"""


def spec_file(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "proj"
    d.mkdir(exist_ok=True)
    p = d / "audit.yaml"
    p.write_text(text)
    return p


def test_relative_paths_resolve_against_spec_folder(tmp_path: Path) -> None:
    r = load_spec(spec_file(tmp_path, BASE))
    assert r.model is not None and r.model.path == tmp_path / "proj" / "models" / "m.skops"
    assert r.dataset.path == tmp_path / "proj" / "data.csv"
    assert r.policy == tmp_path / "policies" / "p.yaml"
    assert r.output == tmp_path / "proj" / "reports"


def test_registry_reference(tmp_path: Path) -> None:
    r = load_spec(spec_file(tmp_path, BASE.replace("models/m.skops", "adult-gbm@1")))
    assert r.model is not None and r.model.is_registered
    assert (r.model.name, r.model.version) == ("adult-gbm", "1")


def test_flags_override_keys_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = load_spec(spec_file(tmp_path, BASE), {"output": "out", "seed": 7, "policy": None})
    assert r.output == tmp_path / "out"
    assert r.spec.seed == 7
    assert r.policy == tmp_path / "policies" / "p.yaml"  # None means "not given"


def test_unknown_key_is_an_error_with_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, BASE + "sensitive_feature: [race]\n"))
    msg = info.value.diagnostics()
    assert "audit.yaml:8:1: sensitive_feature: unknown key" in msg
    assert "did you mean 'sensitive_features'" in msg


def test_model_and_recorded_predictions_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="either a `model` or recorded"):
        load_spec(spec_file(tmp_path, BASE + "predictions: pred\n"))
    text = BASE.replace("model: models/m.skops\n", "")
    with pytest.raises(InputError, match="give a `model`, or a `predictions`"):
        load_spec(spec_file(tmp_path, text))
    assert load_spec(spec_file(tmp_path, text + "scores: s\n")).model is None


def test_missing_required_key_points_at_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, BASE.replace("dataset: data.csv\n", "")))
    assert "audit.yaml:1:1: dataset: Field required" in info.value.diagnostics()


RECORDED = BASE.replace("model: models/m.skops\n", "").replace("label: y\n", "")


def test_label_is_optional_for_decisions_scores_and_models(tmp_path: Path) -> None:
    """An audit with no ground truth (a hiring audit of decisions or scores alone) needs no
    label; positive_label still names the selected decision or the model's class."""
    decisions = load_spec(spec_file(tmp_path, RECORDED + "predictions: selected\n")).spec
    assert decisions.label is None and decisions.positive_label == 1
    scores = RECORDED.replace("positive_label: 1\n", "") + "scores: score\n"
    scored = load_spec(spec_file(tmp_path, scores)).spec
    assert scored.label is None and scored.positive_label is None
    model = load_spec(spec_file(tmp_path, BASE.replace("label: y\n", ""))).spec
    assert model.label is None and model.model == "models/m.skops"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (BASE.replace("positive_label: 1\n", ""), "the label 'y' and the model's classes"),
        (RECORDED.replace("positive_label: 1\n", "") + "predictions: hired\n", "'hired'"),
        (
            RECORDED.replace("positive_label: 1\n", "") + "predictions: hired\nlabel: y\n",
            "the label 'y' and the predictions column 'hired'",
        ),
    ],
    ids=["label-and-model", "predictions", "label-and-predictions"],
)
def test_positive_label_required_where_it_names_something(
    tmp_path: Path, text: str, named: str
) -> None:
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, text))
    msg = info.value.diagnostics()
    assert "give `positive_label`: the favourable value of" in msg and named in msg


@pytest.mark.parametrize(
    ("extra", "role"),
    [
        ("id_column: sex\n", "a sensitive feature"),
        ("id_column: y\n", "the label"),
    ],
)
def test_id_column_cannot_play_another_role(tmp_path: Path, extra: str, role: str) -> None:
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, BASE + extra))
    assert f"cannot also be {role}: it only identifies rows" in info.value.diagnostics()
    recorded = RECORDED + "predictions: hired\nid_column: hired\n"
    with pytest.raises(InputError, match="cannot also be the predictions column"):
        load_spec(spec_file(tmp_path, recorded))


# -- tasks beyond binary classification (issue #20) ----------------------------------------------

NON_BINARY = BASE.replace("positive_label: 1\n", "")


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_a_non_binary_task_needs_no_positive_label_and_refuses_one(
    tmp_path: Path, task: str
) -> None:
    r = load_spec(spec_file(tmp_path, NON_BINARY + f"task: {task}\n"))
    assert r.spec.task == task and r.spec.positive_label is None
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, BASE + f"task: {task}\n"))
    assert f"positive_label applies to binary audits; task: {task} has none" in str(info.value)


def test_a_binary_task_still_needs_its_positive_label(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, NON_BINARY))
    assert "give `positive_label`" in str(info.value)


def test_an_unknown_task_is_refused_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, NON_BINARY + "task: ranking\n"))
    msg = info.value.diagnostics()
    assert "task" in msg and "'binary'" in msg and "'regression'" in msg


def test_recorded_scores_are_for_binary_audits(tmp_path: Path) -> None:
    text = NON_BINARY.replace("model: models/m.skops\n", "scores: s\n") + "task: regression\n"
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, text))
    assert "takes recorded `predictions`, not `scores`" in str(info.value)


def test_an_endpoint_reference_is_a_url_not_a_path(tmp_path: Path) -> None:
    url = "https://models.example/invocations"
    r = load_spec(spec_file(tmp_path, BASE.replace("models/m.skops", f"endpoint+{url}")))
    assert r.model is not None and r.model.endpoint and r.model.uri == url
    assert r.model.path is None and not r.model.is_registered


@pytest.mark.parametrize(
    "scenario, message",
    [
        ("{id: s, feature: sex, group: F}", "give exactly one of `change` or `share`"),
        ("{id: s, feature: sex, group: F, change: 0.1, share: 0.5}", "exactly one of"),
        (
            "{id: s, feature: sex, group: F, share: 1.0}",
            "share: 1.0 must be strictly between 0 and 1",
        ),
        (
            "{id: s, feature: sex, group: F, change: -1.5}",
            "change: -1.5 must be strictly between -1 and 1",
        ),
    ],
)
def test_a_shift_scenario_names_one_valid_change(
    tmp_path: Path, scenario: str, message: str
) -> None:
    with pytest.raises(InputError) as info:
        load_spec(spec_file(tmp_path, BASE + f"shift: [{scenario}]\n"))
    assert message in info.value.diagnostics()
