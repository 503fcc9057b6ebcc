"""Rules judged on the evidence: one-sided tests of the threshold itself, corrected for the
number of comparisons, and "inconclusive" as a verdict. Each figure is checked against an
independent computation (statsmodels, or the counts by hand)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from audit.fairness import compute_fairness
from audit.policy import evaluate, load_policy
from tests.helpers import as_json, evidence

RULE = """\
  - id: {id}
    kind: fairness
    metric: {metric}
    operator: "{op}"
    threshold: {threshold}
    mode: {mode}
{extra}"""


def _policy(tmp_path: Path, rules: list[dict], head: str = "") -> Path:
    text = 'apiVersion: audit/v1\nkind: Policy\nname: sig\nversion: "1"\nmin_group_size: 5\n'
    text += head + "rules:\n"
    for r in rules:
        extra = "".join(f"    {k}: {v}\n" for k, v in r.get("extra", {}).items())
        text += RULE.format(extra=extra, **{k: v for k, v in r.items() if k != "extra"})
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def _data(groups: dict[str, tuple[int, int, int, int]]) -> tuple:
    """Rows from (n, selected, positives, true positives) per group."""
    labels, pred, truth = [], [], []
    for g, (n, s, pos, tp) in groups.items():
        labels += [g] * n
        # tp rows selected & positive, s - tp selected & negative, pos - tp positive not selected
        pred += (
            [True] * tp + [True] * (s - tp) + [False] * (pos - tp) + [False] * (n - s - pos + tp)
        )
        truth += (
            [True] * tp + [False] * (s - tp) + [True] * (pos - tp) + [False] * (n - s - pos + tp)
        )
    return np.array(truth), np.array(pred), pd.DataFrame({"group": labels})


def _judge(tmp_path, groups, rules, head=""):
    y_true, y_pred, sensitive = _data(groups)
    fairness = as_json(compute_fairness(y_true, y_pred, sensitive, seed=0).to_report())
    findings = evaluate(
        load_policy(_policy(tmp_path, rules, head)),
        evidence(fairness, {}, {"status": "skipped", "reason": "-"}),
    )
    return {f.id: f for f in findings}, fairness


def test_tpr_floor_tests_the_threshold_not_equality_between_groups(tmp_path: Path) -> None:
    """Two groups at TPR 0.29 and 0.31: equal to each other, both far under the floor 0.6.
    Testing "equal to the reference" passed them; testing the threshold fails both."""
    groups = {"a": (400, 120, 200, 58), "b": (400, 130, 200, 62)}  # tpr 0.29, 0.31
    rules = [{"id": "tpr-floor", "metric": "tpr", "op": ">=", "threshold": 0.6,
              "mode": "significance"}]  # fmt: skip
    out, fairness = _judge(tmp_path, groups, rules)
    f = out["tpr-floor"]
    assert f.status == "fail" and f.verdict == "breach"
    assert {b.group for b in f.breaches} == {"a", "b"}
    assert "tested H0: tpr >= 0.6 one-sided" in f.message and "breach in 2 of 2" in f.message
    assert "all 2 groups" not in f.message and "no breach" not in f.message
    # the raw p-values are the one-sided score test of the rate against 0.6 (statsmodels)
    for t in f.tests:
        x = {"a": 58, "b": 62}[t.group]
        _, p = proportions_ztest(x, 200, value=0.6, alternative="smaller", prop_var=0.6)
        assert t.p_value == pytest.approx(p, rel=1e-9) and t.hypothesis == "H0: tpr >= 0.6"
    holm = multipletests([t.p_value for t in f.tests], method="holm")[1]
    assert [t.p_adjusted for t in f.tests] == pytest.approx(list(holm), rel=1e-12)


def test_small_group_is_inconclusive_and_the_policy_decides(tmp_path: Path) -> None:
    # reference 500/1000 = 0.5; small group 2/8 = 0.25: impact ratio 0.5, not significant
    groups = {"ref": (1000, 500, 500, 500), "small": (8, 2, 2, 2)}
    base = {"metric": "impact_ratio", "op": ">=", "threshold": 0.8, "mode": "significance"}
    rules = [
        {"id": "default", **base},
        {"id": "strict", **base, "extra": {"on_inconclusive": "fail"}},
        {"id": "lenient", **base, "extra": {"on_inconclusive": "pass"}},
        {"id": "point", **{**base, "mode": "point"}},
    ]
    out, fairness = _judge(tmp_path, groups, rules)
    assert out["point"].status == "fail"  # the estimate breaches
    assert out["default"].status == "warn" and out["default"].verdict == "inconclusive"
    assert out["strict"].status == "fail" and out["lenient"].status == "pass"
    msg = out["default"].message
    assert msg.startswith("inconclusive: ") and "group=small" in msg
    small = next(t for t in out["default"].tests if t.group == "small")
    assert small.verdict == "inconclusive" and small.p_adjusted > 0.05
    assert small.mde is not None and small.mde < 0.8  # a breach is detectable only far below


def test_large_group_significant_breach_fails(tmp_path: Path) -> None:
    # reference 500/1000 = 0.5; large group 350/1000 = 0.35: impact ratio 0.7 < 0.8, significantly
    groups = {"ref": (1000, 500, 500, 500), "large": (1000, 350, 350, 350)}
    rules = [{"id": "ir", "metric": "impact_ratio", "op": ">=", "threshold": 0.8,
              "mode": "significance"}]  # fmt: skip
    out, _ = _judge(tmp_path, groups, rules)
    f = out["ir"]
    assert f.status == "fail" and f.group == "large" and f.verdict == "breach"
    large = next(t for t in f.tests if t.group == "large")
    assert large.p_adjusted < 0.05 and "Koopman" in large.method
    ref = next(t for t in f.tests if t.group == "ref")
    assert ref.verdict == "no_breach"  # 1 / 0.7 is far above 0.8: compliance is shown


def test_bound_mode_three_verdicts(tmp_path: Path) -> None:
    groups = {
        "clear": (2000, 1000, 1000, 1000),  # 0.5, tight interval above 0.3
        "breach": (2000, 300, 300, 300),  # 0.15, whole interval under 0.3
        "unsure": (20, 6, 6, 6),  # 0.3, wide interval across 0.3
    }
    rules = [{"id": "floor", "metric": "selection_rate", "op": ">=", "threshold": 0.3,
              "mode": "bound"}]  # fmt: skip
    out, fairness = _judge(tmp_path, groups, rules)
    verdicts = {t.group: t.verdict for t in out["floor"].tests}
    assert verdicts == {"clear": "no_breach", "breach": "breach", "unsure": "inconclusive"}
    for t in out["floor"].tests:
        assert t.ci == fairness["group"]["groups"][t.group]["ci"]["selection_rate"]
        assert t.ci_method == "jeffreys"
    assert out["floor"].status == "fail"
    # the interval decides: nothing is adjusted, and the report does not claim a correction
    assert out["floor"].correction is None
    assert all(t.p_adjusted is None for t in out["floor"].tests)


def test_benjamini_hochberg_when_the_policy_asks(tmp_path: Path) -> None:
    groups = {f"g{i}": (100, 20 + 3 * i, 50, 10 + i) for i in range(6)}
    rules = [{"id": "floor", "metric": "selection_rate", "op": ">=", "threshold": 0.3,
              "mode": "significance"}]  # fmt: skip
    out, _ = _judge(tmp_path, groups, rules, head="correction: bh\n")
    f = out["floor"]
    assert f.correction == "bh"
    bh = multipletests([t.p_value for t in f.tests], method="fdr_bh")[1]
    assert [t.p_adjusted for t in f.tests] == pytest.approx(list(bh), rel=1e-12)
    assert "Benjamini-Hochberg-adjusted over 6" in f.message


def test_most_favoured_reference_has_an_interval_of_its_own() -> None:
    """The reference group is chosen from the data; its own impact ratio is 1 by definition
    but its interval reflects that another group may be the most favoured."""
    y_true, y_pred, sensitive = _data({"a": (100, 30, 50, 15), "b": (100, 29, 50, 15)})
    feature = compute_fairness(y_true, y_pred, sensitive)["group"]
    ref = feature.groups[feature.reference_group]
    assert ref.impact_ratio == 1.0
    assert ref.ci["impact_ratio"].low < 0.8 and ref.ci["impact_ratio"].high == 1.0
    assert "most-favoured" in ref.ci_method["impact_ratio"]


def test_fair_audits_rarely_fail_through_the_whole_rule(tmp_path: Path) -> None:
    """The tool's own output end to end: 12 groups of 100 sharing one true selection rate (0.3),
    each dataset counted by the engine and judged by a significance-mode four-fifths rule. The
    old "differs from the reference" test failed 74% of such fair audits; the issue's bound is
    6%. 100 datasets (the benchmark runs 2,000 on the intervals themselves)."""
    rng = np.random.default_rng(2026)
    path = _policy(
        tmp_path,
        [
            {
                "id": "ir",
                "metric": "impact_ratio",
                "op": ">=",
                "threshold": 0.8,
                "mode": "significance",
            }
        ],  # fmt: skip
    )
    policy = load_policy(path)
    labels = np.repeat([f"g{i:02d}" for i in range(12)], 100)
    failed = 0
    for _ in range(100):
        y_pred = rng.random(len(labels)) < 0.3
        fairness = as_json(
            compute_fairness(
                y_pred, y_pred, pd.DataFrame({"group": labels}), n_bootstrap=0
            ).to_report()
        )
        (f,) = evaluate(policy, evidence(fairness, {}, {"status": "skipped", "reason": "-"}))
        failed += f.verdict == "breach"
    assert failed / 100 <= 0.06
