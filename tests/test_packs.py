"""Every shipped policy pack validates, cites its source, and passes one input and fails another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.policy import Evidence, evaluate, load_policy, outcome
from tests.conftest import POLICIES
from tests.helpers import evidence as typed_evidence

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


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.stem)
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
