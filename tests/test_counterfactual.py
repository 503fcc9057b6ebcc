"""Counterfactual flip tests (issue #20 part 4): swap a sensitive value (or the names and pronouns
of a text input), decide again, and count the flips.

Oracles: a pandas hand count (swap the column, ``est.predict`` both frames, cross-tabulate),
``statsmodels.stats.contingency_tables.mcnemar(..., exact=True)`` and
``scipy.stats.binomtest`` for McNemar's test, ``scipy.stats.beta`` for the Jeffreys interval,
the Agresti-Min formula written out and its coverage by simulation, a bio text generated from a
template with the other sex's words for the text swap, and the in-memory report for the
streaming engine (byte-equal JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml

from audit import contract
from audit.cli.app import main
from audit.contract.counterfactual import FlipComparison, FlipCounts
from audit.engine.counterfactual import WordSwap
from audit.errors import InputError
from audit.fairness.flips import mcnemar_exact, net_change, paired
from audit.loaders.skops_loader import TRUSTED_TYPES
from audit.policy import load_policy
from audit.policy.rules import CounterfactualRule
from tests.conftest import SAMPLES
from tests.helpers import evidence

ADULT = SAMPLES / "adult"
TEST_CSV = ADULT / "adult_test.csv"
LOGREG = ADULT / "models" / "adult-logreg.skops"
NOSENSITIVE = ADULT / "models" / "adult-logreg-nosensitive.skops"

POLICY = """\
apiVersion: audit/v1
kind: Policy
name: counterfactual
version: "1"
min_group_size: 30
rules:
  - id: sex-flips
    kind: counterfactual
    feature: sex
    metric: flip_rate
    operator: "<="
    threshold: 0.01
    mode: bound
  - id: sex-flips-per-group
    kind: counterfactual
    metric: flip_rate
    scope: per_group
    operator: "<="
    threshold: 0.01
"""


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, skipinitialspace=True)


def _load(path: Path) -> Any:
    return sio.load(path, trusted=list(TRUSTED_TYPES))


def _spec(folder: Path, model: Path, dataset: Path, **extra: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(extra.pop("policy", POLICY))
    doc: dict[str, Any] = {
        "name": extra.pop("name", "adult-counterfactual"),
        "model": str(model),
        "dataset": str(dataset),
        "label": "income",
        "positive_label": ">50K",
        "sensitive_features": ["sex", "race"],
        "policy": "policy.yaml",
        "seed": 0,
        "counterfactual": {"features": ["sex"]},
        "explain": {"sample_size": 20, "proxy_model_rows": 0, "stability_replicas": 0},
        "fairness": {"n_bootstrap": 10},
        **extra,
    }
    spec = folder / "audit.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    return spec


def _run(spec: Path, out: Path, *flags: str) -> tuple[int, dict]:
    code = main(["run", str(spec), "--output", str(out), "--no-pdf", "--no-sign", *flags])
    (report,) = out.glob("*/v*/report.json")
    return code, json.loads(report.read_text())


def _hand_count(est: Any, frame: pd.DataFrame, swapped: pd.DataFrame, mask: Any = None) -> dict:
    """McNemar's cells from est.predict on the rows and on their twins."""
    before = est.predict(frame) == ">50K"
    after = est.predict(swapped) == ">50K"
    if mask is not None:
        before, after = before[mask], after[mask]
    return {
        "a": int((before & after).sum()),
        "b": int((before & ~after).sum()),
        "c": int((~before & after).sum()),
        "d": int((~before & ~after).sum()),
    }


def _cells(f: dict) -> dict:
    return {
        "a": f["favourable_kept"],
        "b": f["favourable_to_adverse"],
        "c": f["adverse_to_favourable"],
        "d": f["adverse_kept"],
    }


def _agresti_min(b: int, c: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Agresti & Min (2005): the Wald interval of p_c - p_b after adding 1/2 to every cell."""
    N = n + 2
    pb, pc = (b + 0.5) / N, (c + 0.5) / N
    se = np.sqrt((pb + pc - (pc - pb) ** 2) / N)
    return max(-1.0, pc - pb - z * se), min(1.0, pc - pb + z * se)


# -- adult-logreg (uses sex) and the same pipeline without sex and race ----------------------


@pytest.fixture(scope="module")
def nosensitive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample model when present; else adult-logreg's pipeline refitted without sex and
    race in its encoder (the model still takes every input column, as the sample does)."""
    if NOSENSITIVE.exists():
        return NOSENSITIVE
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer

    est = _load(LOGREG)
    inputs = list(est.feature_names_in_)
    pre = est.named_steps["preprocess"]
    kept = [
        (name, clone(t), [c for c in cols if c not in ("sex", "race")])
        for name, t, cols in pre.transformers
    ]
    est.steps[0] = ("preprocess", ColumnTransformer(kept, remainder="drop"))
    est.steps[-1] = ("model", clone(est.steps[-1][1]))
    train = _read(ADULT / "adult_train.csv")
    est.fit(train[inputs], train["income"])
    path = tmp_path_factory.mktemp("models") / "adult-logreg-nosensitive.skops"
    sio.dump(est, path)
    return path


@pytest.fixture(scope="module")
def logreg_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict]:
    tmp = tmp_path_factory.mktemp("logreg")
    return _run(_spec(tmp / "spec", LOGREG, TEST_CSV), tmp / "out")


@pytest.fixture(scope="module")
def nosensitive_run(
    tmp_path_factory: pytest.TempPathFactory, nosensitive: Path
) -> tuple[int, dict]:
    tmp = tmp_path_factory.mktemp("nosensitive")
    return _run(_spec(tmp / "spec", nosensitive, TEST_CSV), tmp / "out")


def test_logreg_flips_about_nine_percent_as_a_hand_count(logreg_run: tuple[int, dict]) -> None:
    _, report = logreg_run
    sex = report["counterfactual"]["comparisons"]["sex"]
    data = _read(TEST_CSV)
    est = _load(LOGREG)
    X = data[list(est.feature_names_in_)]
    swapped = X.assign(sex=X["sex"].map({"Male": "Female", "Female": "Male"}))
    expected = _hand_count(est, X, swapped)
    assert _cells(sex["overall"]) == expected
    assert sex["swap"] == {"Female": "Male", "Male": "Female"}
    assert sex["rows"] == sex["overall"]["n"] == len(data) and sex["unchanged"] == 0
    assert sex["overall"]["flip_rate"] == pytest.approx(
        (expected["b"] + expected["c"]) / len(data), rel=1e-12
    )
    assert 0.05 < sex["overall"]["flip_rate"] < 0.15  # far from 0 (9.2 %)
    # per group of every sensitive feature: each row counts in the group of its original value
    for feature in ("sex", "race"):
        for group, got in sex["groups"][feature].items():
            mask = (data[feature] == group).to_numpy()
            assert _cells(got) == _hand_count(est, X, swapped, mask), (feature, group)
    # Male rows can only lose (become Female); Female rows can only gain
    assert sex["groups"]["sex"]["Male"]["adverse_to_favourable"] == 0
    assert sex["groups"]["sex"]["Female"]["favourable_to_adverse"] == 0


def test_mcnemar_and_intervals_equal_statsmodels_scipy_and_the_formulas(
    logreg_run: tuple[int, dict],
) -> None:
    from scipy.stats import beta, binomtest
    from statsmodels.stats.contingency_tables import mcnemar

    _, report = logreg_run
    section = report["counterfactual"]
    assert section["confidence"] == 0.95
    compared = [section["comparisons"]["sex"]["overall"]]
    compared += [
        g for groups in section["comparisons"]["sex"]["groups"].values() for g in groups.values()
    ]
    for f in compared:
        a, b, c, d = _cells(f).values()
        n = a + b + c + d
        res = mcnemar([[a, b], [c, d]], exact=True)
        assert f["mcnemar_statistic"] == res.statistic == min(b, c)
        assert f["mcnemar_p_value"] == pytest.approx(res.pvalue, rel=1e-9, abs=1e-300)
        if b + c:
            assert f["mcnemar_p_value"] == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-12)
        x = b + c
        low = 0.0 if x == 0 else beta.ppf(0.025, x + 0.5, n - x + 0.5)
        high = 1.0 if x == n else beta.ppf(0.975, x + 0.5, n - x + 0.5)
        assert f["flip_rate_ci"] == pytest.approx([low, high], rel=1e-9)
        assert f["net_change"] == pytest.approx((c - b) / n, rel=1e-12)
        assert f["net_change_ci"] == pytest.approx(list(_agresti_min(b, c, n)), rel=1e-9)


def test_nosensitive_model_flips_nothing(nosensitive_run: tuple[int, dict]) -> None:
    _, report = nosensitive_run
    sex = report["counterfactual"]["comparisons"]["sex"]["overall"]
    assert sex["n"] == 16281
    assert sex["flips"] == sex["favourable_to_adverse"] == sex["adverse_to_favourable"] == 0
    assert sex["flip_rate"] == 0.0 and sex["net_change"] == 0.0
    assert sex["mcnemar_p_value"] == 1.0 and sex["mcnemar_statistic"] == 0
    assert sex["flip_rate_ci"][0] == 0.0 and sex["flip_rate_ci"][1] < 1e-3


def test_the_rule_fails_for_logreg_and_passes_for_nosensitive(
    logreg_run: tuple[int, dict], nosensitive_run: tuple[int, dict]
) -> None:
    (bad_code, bad), (good_code, good) = logreg_run, nosensitive_run
    assert (bad_code, bad["outcome"], good_code, good["outcome"]) == (1, "fail", 0, "pass")
    rules = {r["id"]: r for r in bad["rules"]}
    assert rules["sex-flips"]["status"] == "fail" and rules["sex-flips"]["verdict"] == "breach"
    assert (
        rules["sex-flips"]["value"]
        == bad["counterfactual"]["comparisons"]["sex"]["overall"]["flip_rate"]
    )
    breached = {b["group"] for b in rules["sex-flips-per-group"]["breaches"]}
    assert {"sex=Male", "sex=Female", "race=White"} <= breached
    for r in good["rules"]:
        assert r["status"] == "pass", r
    assert {r["id"]: r.get("verdict") for r in good["rules"]}["sex-flips"] == "no_breach"


def test_report_section_renders(logreg_run: tuple[int, dict], tmp_path: Path) -> None:
    from audit.report.render import render_html

    html = render_html(contract.Report.model_validate(logreg_run[1]))
    section = html[html.index('<section id="counterfactual"') :]
    section = section[: section.index("</section>")]
    assert "Counterfactual flip tests" in section and "Female &rarr; Male" in section
    assert "1,268" in section and "231" in section and "9.2" in section


# -- the streaming engine gives the same report (a subset of adult, with a text swap) --------


BIO = "{He} is a {age}-year-old {occupation} worker named {name}. {He} says the job suits {him}."
SEXES = {
    "Male": {"He": "He", "him": "him", "name": "John"},
    "Female": {"He": "She", "him": "her", "name": "Mary"},
}
SWAPS = {"he": "she", "she": "he", "him": "her", "her": "him", "John": "Mary", "Mary": "John"}


def _bio(frame: pd.DataFrame, sex: pd.Series) -> pd.Series:
    return pd.Series(
        [
            BIO.format(age=age, occupation=occ, **SEXES[s])
            for age, occ, s in zip(frame["age"], frame["occupation"], sex, strict=True)
        ],
        index=frame.index,
    )


@pytest.fixture(scope="module")
def text_audit(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """2,000 adult rows with a derived ``bio``, and a keyword-biased text model: a
    CountVectorizer + LogisticRegression pipeline over the bio and two numbers, trained on
    income, so it learns that the men's words (he, him, John) go with higher incomes."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    tmp = tmp_path_factory.mktemp("text")
    data = _read(TEST_CSV).head(2000).copy()
    data["bio"] = _bio(data, data["sex"])
    neutral = [f"A {age}-year-old worker." for age in data["age"][:40]]
    data.loc[data.index[:40], "bio"] = neutral  # no listed word: never swapped
    path = tmp / "adult_bio.csv"
    data.to_csv(path, index=False)
    features = ["bio", "age", "hours_per_week", "sex"]
    pre = ColumnTransformer(
        [("bio", CountVectorizer(), "bio"), ("num", "passthrough", ["age", "hours_per_week"])]
    )
    est = Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=2000))])
    est.fit(data[features], data["income"])
    model = tmp / "bio-model.skops"
    sio.dump(est, model)
    (tmp / "swaps.yaml").write_text(yaml.safe_dump({"swaps": SWAPS}))
    counterfactual = {"features": ["sex"], "text_columns": ["bio"], "swap_lists": "swaps.yaml"}
    spec = _spec(tmp / "spec", model, path, counterfactual=counterfactual, name="adult-bio")
    (tmp / "spec" / "swaps.yaml").write_text(yaml.safe_dump({"swaps": SWAPS}))
    memory = _run(spec, tmp / "m", "--engine", "memory")[1]
    stream = _run(spec, tmp / "s", "--engine", "stream", "--batch-rows", "97")[1]
    return {"data": data, "est": _load(model), "memory": memory, "stream": stream, "spec": spec}


def test_stream_report_is_byte_equal_to_memory(text_audit: dict) -> None:
    def strip(report: dict) -> str:
        return json.dumps(
            {
                k: v
                for k, v in report.items()
                if k not in ("report_id", "created_at", "environment")
            },
            sort_keys=True,
        )

    assert text_audit["memory"]["counterfactual"]["comparisons"]["bio"]["overall"]["n"] == 1960
    assert strip(text_audit["stream"]) == strip(text_audit["memory"])


def test_text_swap_flips_as_the_other_sexs_bio_does(text_audit: dict) -> None:
    data, est = text_audit["data"], text_audit["est"]
    X = data[list(est.feature_names_in_)]
    other = _bio(data, data["sex"].map({"Male": "Female", "Female": "Male"}))
    other.iloc[:40] = data["bio"].iloc[:40]
    expected = _hand_count(est, X, X.assign(bio=other), np.arange(len(X)) >= 40)
    bio = text_audit["memory"]["counterfactual"]["comparisons"]["bio"]
    assert bio["kind"] == "text" and bio["word_pairs"] == len(SWAPS)
    assert _cells(bio["overall"]) == expected
    assert bio["overall"]["flips"] > 100  # the model is biased by its keywords
    assert (bio["rows"], bio["unchanged"], bio["overall"]["n"]) == (2000, 40, 1960)
    sex = text_audit["memory"]["counterfactual"]["comparisons"]["sex"]
    assert sex["overall"]["n"] == 2000
    assert sex["overall"]["flips"] == 0  # the text model never reads the sex column


def test_word_swap_is_single_pass_whole_word_and_keeps_case() -> None:
    swap = WordSwap.of(SWAPS)
    cases = {
        "He is a 38-year-old worker named John.": "She is a 38-year-old worker named Mary.",
        "she told him; he told her": "he told her; she told him",
        "HE SAID SHE": "SHE SAID HE",
        "Johnson, the theme, hello, Maryland": "Johnson, the theme, hello, Maryland",
        "John's job; (she)": "Mary's job; (he)",
        "": "",
    }
    for text, expected in cases.items():
        assert swap.apply(text) == expected


# -- bad input: exit 2 with a message naming what to fix -------------------------------------


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"counterfactual": {}}, "'race' has 5 values"),
        (
            {"counterfactual": {"features": ["sex"], "swap": {"sex": {"Male": "female"}}}},
            "'female' is not a value",
        ),
        ({"counterfactual": {"features": ["income"]}}, "'income' is not an input of the model"),
        (
            {"counterfactual": {"features": ["sex"], "swap": {"race": {"White": "Black"}}}},
            "counterfactual.swap names race",
        ),
        (
            {"counterfactual": {"features": ["sex"], "text_columns": ["sex"]}},
            "both a feature and a text column",
        ),
        (
            {"counterfactual": {"features": ["sex"], "swap_lists": "x.yaml"}},
            "swap_lists is given without text_columns",
        ),
    ],
)
def test_bad_counterfactual_settings_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, needle: str
) -> None:
    spec = _spec(tmp_path / "spec", LOGREG, TEST_CSV, **change)
    code = main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf", "--no-sign"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err and "Traceback" not in err


def test_recorded_decisions_cannot_be_flipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _read(TEST_CSV).head(200)
    data["decision"] = data["income"]
    path = tmp_path / "decisions.csv"
    data.to_csv(path, index=False)
    spec = _spec(tmp_path / "spec", LOGREG, path, predictions="decision")
    doc = yaml.safe_load(spec.read_text())
    doc.pop("model")
    spec.write_text(yaml.safe_dump(doc))
    code = main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf", "--no-sign"])
    err = capsys.readouterr().err
    assert code == 2 and "recorded decisions cannot" in err and "Traceback" not in err


# -- statistics and the rule, on hand-made counts ----------------------------------------------


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 1), (1, 0), (3, 7), (12, 2), (400, 380)])
def test_mcnemar_exact_equals_statsmodels(b: int, c: int) -> None:
    from statsmodels.stats.contingency_tables import mcnemar

    res = mcnemar([[50, b], [c, 60]], exact=True)
    statistic, p = mcnemar_exact(b, c)
    assert statistic == res.statistic and p == pytest.approx(res.pvalue, rel=1e-12)
    s = paired(np.array([60, c, b, 50]), 0.95)
    assert (s.a, s.b, s.c, s.d, s.n) == (50, b, c, 60, 110 + b + c)


def test_net_change_interval_covers_at_its_level() -> None:
    """Seeded simulation: paired decisions with P(b) = 0.04, P(c) = 0.01 in 300 rows."""
    rng = np.random.default_rng(20)
    n, pb, pc, reps = 300, 0.04, 0.01, 4000
    cells = rng.multinomial(n, [pb, pc, 1 - pb - pc], size=reps)
    covered = 0
    for b, c, _ in cells:
        _, (low, high) = net_change(int(b), int(c), n, 0.95)
        covered += low <= pc - pb <= high
    assert 0.935 <= covered / reps <= 0.965


def _section(rate_counts: dict[str, tuple[int, int, int, int]]) -> contract.Counterfactual:
    """A counterfactual section with one comparison ``sex`` and groups of sex."""

    def counts(d: int, c: int, b: int, a: int) -> FlipCounts:
        s = paired(np.array([d, c, b, a]), 0.95)
        return FlipCounts(
            n=s.n,
            flips=s.flips,
            flip_rate=s.flip_rate,
            flip_rate_ci=list(s.flip_rate_ci),
            favourable_kept=a,
            favourable_to_adverse=b,
            adverse_to_favourable=c,
            adverse_kept=d,
            net_change=s.net_change,
            net_change_ci=list(s.net_change_ci),
            mcnemar_statistic=s.mcnemar_statistic,
            mcnemar_p_value=s.mcnemar_p_value,
        )

    total = tuple(int(sum(v[i] for v in rate_counts.values())) for i in range(4))
    return contract.Counterfactual(
        confidence=0.95,
        flip_rate_method="Jeffreys",
        comparisons={
            "sex": FlipComparison(
                kind="value",
                swap={"Male": "Female", "Female": "Male"},
                rows=sum(total),
                unchanged=0,
                overall=counts(*total),
                groups={"sex": {g: counts(*v) for g, v in rate_counts.items()}},
            )
        },
    )


def _judge(rule: dict, section: contract.Counterfactual | None, tmp_path: Path) -> Any:
    text = 'apiVersion: audit/v1\nkind: Policy\nname: t\nversion: "1"\nmin_group_size: 20\nrules:\n'
    path = tmp_path / "p.yaml"
    path.write_text(text + yaml.safe_dump([{"id": "r", "kind": "counterfactual", **rule}]))
    policy = load_policy(path)
    ev = evidence({}, {}, {"status": "skipped", "reason": "x"}, counterfactual=section)
    (only,) = policy.rules
    assert isinstance(only, CounterfactualRule)
    return only.judge(policy, ev)


def test_rule_point_bound_and_inconclusive(tmp_path: Path) -> None:
    # Male: 2 of 1000 flip; Female: 1 of 10 (a group too small to judge)
    section = _section({"Male": (900, 1, 1, 98), "Female": (8, 1, 0, 1)})
    le = {"metric": "flip_rate", "operator": "<=", "threshold": 0.01}
    f = _judge(le, section, tmp_path)
    assert (f.status, f.value, f.feature, f.group) == ("pass", 3 / 1010, "sex", None)
    f = _judge({**le, "scope": "per_group"}, section, tmp_path)
    assert f.status == "pass" and "not judged" in f.message and "Female" in f.message
    f = _judge({**le, "scope": "per_group", "mode": "bound"}, section, tmp_path)
    assert (f.status, f.verdict) == ("warn", "inconclusive")  # Female: n=10 under 20
    f = _judge({**le, "threshold": 0.001, "mode": "bound"}, section, tmp_path)
    assert (f.status, f.verdict) == ("warn", "inconclusive")  # CI spans 0.001
    f = _judge({**le, "threshold": 0.0005, "group": "Male"}, section, tmp_path)
    assert (f.status, f.group, f.value) == ("fail", "sex=Male", 0.002)
    f = _judge({"metric": "net_change", "operator": ">=", "threshold": -0.01}, section, tmp_path)
    assert f.status == "pass" and f.value == pytest.approx(1 / 1010)


def test_rule_without_the_section_is_not_assessable_and_names_are_checked(tmp_path: Path) -> None:
    rule = {"metric": "flip_rate", "operator": "<=", "threshold": 0.01}
    f = _judge(rule, None, tmp_path)
    assert f.status == "skipped" and "no counterfactual flip test" in f.message
    with pytest.raises(InputError, match="did not flip"):
        _judge({**rule, "feature": "race"}, _section({"Male": (9, 0, 0, 1)}), tmp_path)
    with pytest.raises(InputError, match="names group 'Other'"):
        _judge({**rule, "group": "Other"}, _section({"Male": (9, 0, 0, 1)}), tmp_path)
    with pytest.raises(InputError, match="unknown counterfactual metric"):
        _judge({**rule, "metric": "flip"}, None, tmp_path)


# -- multiclass (changed or not), partitions and pickling, without the CLI --------------------


def test_multiclass_flips_merge_over_partitions_to_a_hand_count() -> None:
    """A three-class model that reads sex: the partitions' counts merge to the whole frame's,
    and to a hand count of changed predicted classes; the plan survives pickling (Dask)."""
    import pickle

    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from audit.data import DatasetRequirements
    from audit.engine.counterfactual import CounterfactualPlan, finalize_counterfactual
    from audit.engine.finalize import FairnessOptions
    from audit.engine.partition import Plan
    from audit.loaders import LoadedModel
    from audit.spec import AuditSpec

    rng = np.random.default_rng(5)
    n = 900
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "x": rng.normal(size=n),
            "grp": rng.choice(["a", "b"], n),
        }
    )
    y = np.where(frame["x"] + (frame["sex"] == "M") * 0.8 > 0.3, "high", "low")
    y = np.where(frame["x"] < -1, "none", y)
    frame["y"] = y
    pre = ColumnTransformer([("sex", OneHotEncoder(), ["sex"]), ("x", "passthrough", ["x"])])
    est = Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=1000))])
    est.fit(frame[["sex", "x", "grp"]], frame["y"])
    model = LoadedModel(est, "skops", "0" * 64, Path("m.skops"))
    spec = AuditSpec(
        model="m.skops",
        dataset="d.csv",
        label="y",
        sensitive_features=["sex", "grp"],
        policy="p.yaml",
        task="multiclass",
        counterfactual={"features": ["sex"]},
    )
    cf = CounterfactualPlan.build(spec, model, list(frame.columns), frame=frame)
    cf = pickle.loads(pickle.dumps(cf))
    plan = Plan(
        requirements=DatasetRequirements("y", None, ("sex", "grp"), task="multiclass"),
        source="d.csv",
        model=model,
        features=("sex", "x", "grp"),
        task="multiclass",
        extensions=(cf,),
    )
    decisions = est.predict(frame[["sex", "x", "grp"]])
    whole = cf.summarise(plan, frame, 0, decisions)
    parts = [
        cf.summarise(plan, frame.iloc[i : i + 250], i, decisions[i : i + 250])
        for i in range(0, n, 250)
    ]
    merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    options = FairnessOptions()
    a = finalize_counterfactual(whole, spec, options).to_json()
    b = finalize_counterfactual(merged, spec, options).to_json()
    assert json.dumps(a) == json.dumps(b)
    after = est.predict(
        frame[["sex", "x", "grp"]].assign(sex=frame["sex"].map({"F": "M", "M": "F"}))
    )
    changed = decisions != after
    overall = a["comparisons"]["sex"]["overall"]
    assert (overall["n"], overall["flips"]) == (n, int(changed.sum())) and overall["flips"] > 0
    assert "net_change" not in overall and "net_change_method" not in a
    for g in ("a", "b"):
        mask = (frame["grp"] == g).to_numpy()
        assert a["comparisons"]["sex"]["groups"]["grp"][g]["flips"] == int(changed[mask].sum())


def test_value_swaps_keep_the_column_type() -> None:
    from audit.engine.counterfactual import Swap

    frame = pd.DataFrame(
        {
            "i": pd.Series([0, 1, 1, 0]),
            "f": pd.Series([0.0, 1.0, np.nan, 1.0]),
            "c": pd.Series(["x", "y", "x", None], dtype="category"),
            "b": pd.Series([True, False, True, True]),
        }
    )
    mask, col = Swap("i", "value", (("0", "1"), ("1", "0"))).twins(frame)
    assert mask.tolist() == [True] * 4 and col.tolist() == [1, 0, 0, 1] and col.dtype == "int64"
    mask, col = Swap("f", "value", (("1.0", "0.0"),)).twins(frame)
    assert mask.tolist() == [False, True, False, True] and col.tolist() == [0.0, 0.0]
    mask, col = Swap("c", "value", (("x", "z"),)).twins(frame)
    assert mask.tolist() == [True, False, True, False] and col.tolist() == ["z", "z"]
    assert isinstance(col.dtype, pd.CategoricalDtype) and "z" in col.dtype.categories
    mask, col = Swap("b", "value", (("True", "False"), ("False", "True"))).twins(frame)
    assert col.tolist() == [False, True, False, False] and col.dtype == bool
    with pytest.raises(InputError, match="'yes' is not a value of 'b'"):
        Swap("b", "value", (("True", "yes"),)).twins(frame)


def test_rule_significance_tests_the_threshold_with_holm(tmp_path: Path) -> None:
    """The one-sided score test z = (x/n - t) / sqrt(t (1 - t) / n), p = 1 - Phi(z) (H0: flip
    rate <= t), Holm over the groups: recomputed with scipy and by hand."""
    from scipy.stats import norm

    section = _section({"Male": (900, 20, 20, 60), "Female": (400, 3, 3, 94)})
    rule = {
        "metric": "flip_rate",
        "operator": "<=",
        "threshold": 0.02,
        "mode": "significance",
        "scope": "per_group",
    }
    f = _judge(rule, section, tmp_path)
    tests = {t.group: t for t in f.tests}
    raw = {}
    for g, (x, n) in {"Male": (40, 1000), "Female": (6, 500)}.items():
        z = (x / n - 0.02) / np.sqrt(0.02 * 0.98 / n)
        raw[g] = norm.sf(z)
        assert tests[g].statistic == pytest.approx(z, rel=1e-12)
        assert tests[g].p_value == pytest.approx(raw[g], rel=1e-9)
    low, high = sorted(raw, key=raw.get)
    holm_low = min(1.0, 2 * raw[low])
    assert tests[low].p_adjusted == pytest.approx(holm_low, rel=1e-9)
    assert tests[high].p_adjusted == pytest.approx(max(holm_low, raw[high]), rel=1e-9)
    assert tests["Male"].verdict == "breach" and tests["Female"].verdict != "breach"
    assert (f.status, f.verdict, f.group, f.correction) == ("fail", "breach", "sex=Male", "holm")
    assert tests["Male"].feature == "sex" and "(sex swapped)" in tests["Male"].hypothesis
    with pytest.raises(InputError, match="use it with flip_rate"):
        _judge({**rule, "metric": "net_change"}, section, tmp_path)


def test_a_feature_named_twice_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path / "spec", LOGREG, TEST_CSV, counterfactual={"features": ["sex", "sex"]})
    code = main(["run", str(spec), "--output", str(tmp_path / "out"), "--no-pdf", "--no-sign"])
    assert code == 2 and "lists sex twice" in capsys.readouterr().err
