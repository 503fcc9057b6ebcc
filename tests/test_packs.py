"""Every shipped policy pack validates, cites its source (current as of the date it states it was
checked), and passes one input and fails another; the Colorado pack judges the German sample."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import skops.io as sio
import yaml

from audit.cli import main
from audit.policy import Evidence, evaluate, load_policy, outcome
from tests.conftest import POLICIES, SAMPLES
from tests.helpers import evidence as typed_evidence
from tests.helpers import light_spec

PACKS = sorted(p for p in POLICIES.glob("*.yaml") if p.name != "rbac.yaml")


def evidence(
    *, fair: bool, accurate: bool, documented: bool = True, second: str = "race"
) -> Evidence:
    """Evidence for a two-feature audit (sex and ``second``): fair or not, accurate or not."""
    low_ir = 1.0 if fair else 0.5
    acc = 0.9 if accurate else 0.6

    def group(n: int, ir: float) -> dict[str, Any]:
        sr = 0.4 * ir
        return {
            "n": n,
            "selection_rate": sr,
            "impact_ratio": ir,
            "accuracy": acc,
            "tpr": 0.8 if fair else 0.5 * ir + 0.3,
            "fpr": 0.1,
            "ppv": 0.8,
            "base_rate": 0.4,
        }

    def feature(groups: dict[str, dict[str, Any]]) -> dict[str, Any]:
        tprs = [g["tpr"] for g in groups.values()]
        return {
            "reference_group": next(iter(groups)),
            "unknown": 0,
            "groups": groups,
            "demographic_parity_difference": 0.4 * (1 - low_ir),
            "demographic_parity_ratio": low_ir,
            "equalized_odds_difference": max(tprs) - min(tprs),
            "equal_opportunity_difference": max(tprs) - min(tprs),
        }

    fairness = {
        "sex": feature({"Male": group(600, 1.0), "Female": group(400, low_ir)}),
        second: feature({"White": group(700, 1.0), "Black": group(300, low_ir)}),
    }
    data = {
        "rows": 1000,
        "label_balance": 0.4,
        "features": {
            name: {
                "groups": {
                    g: {"n": d["n"], "share": d["n"] / 1000, "missing_share": 0.0, "base_rate": 0.4}
                    for g, d in f["groups"].items()
                },
                "unknown": 0,
                "unknown_share": 0.0,
            }
            for name, f in fairness.items()
        },
    }
    explanations = {
        "status": "computed",
        "global": [{"feature": "income", "mean_abs_shap": 1.0, "share": 0.9}]
        + ([] if fair else [{"feature": "sex", "mean_abs_shap": 0.5, "share": 0.3}]),
        "sensitive_features": ["sex", "race"],
        "sensitive_share": 0.02 if fair else 0.3,
        "additivity": {"max_abs_error": 1e-12, "mean_abs_error": 1e-13},
        "reasons": {"stability": {"mean": 0.95 if accurate else 0.5}},
    }
    performance = {"accuracy": acc, "roc_auc": acc, "precision": 0.8, "recall": 0.8, "f1": 0.8}
    meta = {"owner": "o", "intended_use": "u", "training_data": "t", "limitations": "l"}
    return typed_evidence(
        fairness,
        performance,
        explanations,
        data,
        model_metadata=meta if documented else {},
        model_registered=True,
    )


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.stem)
def test_pack_validates_and_cites_its_source(path: Path) -> None:
    policy = load_policy(path)
    assert policy.document.references, f"{path.name} must cite the regulation or standard"
    assert path.read_text().lstrip().startswith("#"), (
        "packs open with a comment on what they encode"
    )


#: packs for binary classification (judged here on binary evidence); regression-baseline is
#: judged on real regression audits in tests/test_regression_models.py
BINARY_PACKS = [p for p in PACKS if p.stem != "regression-baseline"]


@pytest.mark.parametrize("path", BINARY_PACKS, ids=lambda p: p.stem)
def test_pack_passes_good_input_and_fails_bad(path: Path) -> None:
    policy = load_policy(path)
    second = "age_group" if path.stem == "baseline-credit" else "race"
    good = evaluate(policy, evidence(fair=True, accurate=True, second=second))
    assert outcome(good) == "pass", [f.message for f in good if f.status == "fail"]
    assert not [f.id for f in good if f.status in ("fail", "warn")]
    bad = evaluate(policy, evidence(fair=False, accurate=False, documented=False, second=second))
    if policy.name == "nyc-ll144":
        # the law sets no threshold: the pack flags (warns), it does not block
        assert {f.status for f in bad} >= {"warn"} and outcome(bad) == "pass"
    else:
        assert outcome(bad) == "fail"


def test_four_fifths_fails_exactly_the_low_groups() -> None:
    findings = evaluate(
        load_policy(POLICIES / "four-fifths.yaml"), evidence(fair=False, accurate=True)
    )
    (f,) = findings
    assert {(b.feature, b.group) for b in f.breaches} == {("sex", "Female"), ("race", "Black")}


def test_eu_ai_act_checklist_separates_evidenced_from_provider_items() -> None:
    policy = load_policy(POLICIES / "eu-ai-act-high-risk.yaml")
    evidenced = {i.reference for i in policy.checklist if i.evidence != "provider"}
    provider = {i.reference for i in policy.checklist if i.evidence == "provider"}
    assert "Annex IV 2(g)" in evidenced and "Annex IV 3; Art. 13(3)(b)(ii)" in evidenced
    assert "Annex IV 8" in provider and "Annex IV 5; Art. 9" in provider


# -- packs current to 2026 (issue #21): citations, dates, and the date each text was checked ---

#: The status check of REFERENCES.md the packs' texts were last compared with.
STATUS_CHECKED = date(2026, 12, 2)
RESCINDED = ("SR 11-7", "OCC 2011-12", "OCC Bulletin 2011-12", "2011-12")


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.stem)
def test_pack_states_when_its_text_was_checked(path: Path) -> None:
    policy = load_policy(path)
    assert "checked" in yaml.safe_load(path.read_text("utf-8")), f"{path.name}: no checked:"
    checked = policy.document.checked
    assert isinstance(checked, date) and checked >= STATUS_CHECKED, (path.name, checked)


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.stem)
def test_no_pack_cites_rescinded_or_withdrawn_guidance(path: Path) -> None:
    """SR 11-7 / OCC 2011-12 (rescinded 2026-04-17) are never a reference and, in the file's
    text, only ever named as rescinded; CFPB Circular 2022-03 (withdrawn 2025-05-12) is not
    named at all."""
    policy = load_policy(path)
    for ref in policy.document.references:
        assert not any(old in ref for old in RESCINDED), (path.name, ref)
    text = path.read_text("utf-8")
    assert "2022-03" not in text and "circular 2022" not in text.lower()
    for line in text.splitlines():
        if any(old in line for old in RESCINDED):
            assert "rescinded" in line, (path.name, line)


def test_model_risk_pack_cites_sr_26_2_and_occ_2026_13() -> None:
    refs = " ".join(load_policy(POLICIES / "model-risk-baseline.yaml").document.references)
    assert "SR 26-2" in refs and "OCC Bulletin 2026-13" in refs


def test_ecoa_pack_cites_regulation_b_1002_9() -> None:
    refs = load_policy(POLICIES / "ecoa-adverse-action.yaml").document.references
    assert any("Regulation B" in r and "12 CFR 1002.9" in r for r in refs), refs


def test_eu_ai_act_dates_are_the_digital_omnibus_ones() -> None:
    """Annex III high-risk obligations apply from 2027-12-02 (moved by the Digital Omnibus), not
    from the original 2026-08-02."""
    path = POLICIES / "eu-ai-act-high-risk.yaml"
    policy = load_policy(path)
    dated = [i for i in policy.checklist if "2027-12-02" in i.text]
    assert [i.id for i in dated] == ["annex-iii-application-date"]
    assert "Digital Omnibus" in dated[0].reference and dated[0].evidence == "provider"
    assert any("Digital Omnibus" in r and "2027-12-02" in r for r in policy.document.references)
    text = path.read_text("utf-8")
    assert "2026-08-02" not in text and "2 August 2026" not in text


def test_colorado_pack_encodes_sb26_189() -> None:
    policy = load_policy(POLICIES / "colorado-sb26-189.yaml")
    refs = " ".join(policy.document.references)
    assert "SB26-189" in refs and "2027-01-01" in refs and "SB24-205" in refs
    kinds = {r.id: r.kind for r in policy.rules}
    assert kinds == {
        "developer-documentation": "documentation",
        "adverse-outcome-reasons-faithful": "explanation",
        "adverse-outcome-reasons-stable": "explanation",
    }
    items = {i.id: i for i in policy.checklist}
    assert items["records-3-years"].evidence == "deployer"
    assert "3 years" in items["records-3-years"].text
    assert items["developer-documentation"].evidence == "provenance"
    assert items["adverse-outcome-explanation"].evidence == "explanations"


# -- the Colorado pack on the German credit sample ----------------------------------------------

GERMAN = SAMPLES / "german"
GERMAN_MODEL = GERMAN / "models" / "german-rf.skops"
METADATA = {
    "--owner": "Credit risk team",
    "--intended-use": "Screening consumer credit applications",
    "--training-data": "German credit, 70% split (samples/train.py)",
    "--limitations": "Not validated outside the 1994 German data",
}


def _colorado_run(folder: Path, policy: Path, model: str, capsys: Any) -> Path:
    """An audit of the German sample under ``policy`` with reasons for every adverse decision
    (explain.rows: adverse) and their stability measured; the bundle folder."""
    spec = light_spec(
        GERMAN,
        folder,
        n_bootstrap=20,
        name="german-colorado",
        policy=str(policy),
        explain={
            "reason_codes": str(POLICIES / "reason-codes" / "german.yaml"),
            "rows": "adverse",
            "stability_replicas": 2,
            "stability_rows": 20,
            "proxy_model_rows": 0,
        },
    )
    out = folder / "out"
    args = ["run", str(spec), "--model", model, "--output", str(out), "--no-pdf", "--no-sign"]
    assert main(args) in (0, 1), capsys.readouterr().err
    (bundle,) = (out / "german-colorado").glob("v*")
    return bundle


def test_colorado_pack_judges_the_german_sample(
    audit_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Registered with the four items of developer documentation, the German model passes the
    pack; every adverse decision the model makes (recomputed here with scikit-learn) has its
    reasons in reasons.csv, at most four; the report states the date the pack was checked, and
    the HTML shows it and the deployer's checklist item."""
    args = ["registry", "add-model", "--name", "german-rf", "--version", "1"]
    args += [x for kv in METADATA.items() for x in kv] + [str(GERMAN_MODEL)]
    assert main(args) == 0
    bundle = _colorado_run(
        tmp_path / "a", POLICIES / "colorado-sb26-189.yaml", "german-rf@1", capsys
    )
    report = json.loads((bundle / "report.json").read_text("utf-8"))
    policy = report["subject"]["policy"]
    assert policy["name"] == "colorado-sb26-189" and policy["checked"] == "2026-12-02"
    assert list(policy)[list(policy).index("references") + 1] == "checked"
    rules = {r["id"]: r for r in report["rules"]}
    assert report["outcome"] == "pass", [r["message"] for r in report["rules"]]
    assert rules["developer-documentation"]["value"] == len(METADATA)
    stability = report["explanations"]["reasons"]["stability"]["mean"]
    assert rules["adverse-outcome-reasons-stable"]["value"] == stability >= 0.75
    additivity = report["explanations"]["additivity"]["max_abs_error"]
    assert rules["adverse-outcome-reasons-faithful"]["value"] == additivity <= 1e-5

    model = sio.load(GERMAN_MODEL, trusted=sio.get_untrusted_types(file=GERMAN_MODEL))
    frame = pd.read_csv(GERMAN / "german_test.csv")
    adverse = set(frame.index[model.predict(frame[list(model.feature_names_in_)]) != 1])
    reasons = pd.read_csv(bundle / "reasons.csv")
    assert adverse and set(reasons["row_id"]) == adverse
    assert report["explanations"]["reasons"]["adverse_decisions"] == len(adverse)
    assert reasons.groupby("row_id").size().between(1, 4).all()

    html = (bundle / "report.html").read_text("utf-8")
    assert "Text checked against its sources on 2026-12-02" in html
    assert "Records kept for 3 years" in html and "to be completed by the deployer" in html


def test_colorado_pack_fails_undocumented_model_and_checked_is_optional(
    audit_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model file that is not registered has no developer documentation: the pack fails the
    audit. A policy without ``checked`` has no ``checked`` key in subject.policy (so reports of
    such policies are unchanged) and no such line in the HTML."""
    doc = yaml.safe_load((POLICIES / "colorado-sb26-189.yaml").read_text("utf-8"))
    del doc["checked"]
    undated = tmp_path / "undated.yaml"
    undated.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    bundle = _colorado_run(tmp_path / "b", undated, str(GERMAN_MODEL), capsys)
    report = json.loads((bundle / "report.json").read_text("utf-8"))
    assert "checked" not in report["subject"]["policy"]
    rules = {r["id"]: r for r in report["rules"]}
    assert report["outcome"] == "fail"
    assert rules["developer-documentation"]["status"] == "fail"
    assert "not registered" in rules["developer-documentation"]["message"]
    assert "Text checked against" not in (bundle / "report.html").read_text("utf-8")


def test_policy_show_prints_the_checked_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "show", str(POLICIES / "colorado-sb26-189.yaml")]) == 0
    head = capsys.readouterr().out.splitlines()[:3]
    assert "#   text checked against its sources on 2026-12-02" in head
