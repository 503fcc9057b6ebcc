"""Counterfactual flip tests: each row decided again with a sensitive value swapped (or the
names and pronouns of a text input swapped), and the paired decisions counted.

Built once by the runner (:meth:`CounterfactualPlan.build`), the plan is an extension of the
engine's :class:`~audit.engine.partition.Plan`: every partition's
:meth:`CounterfactualPlan.summarise` builds the counterfactual twins of its rows, calls the model
once more on the rows the swap changed (through the same decision path as the engine's own
call) and counts the paired decisions per joint key of the sensitive features
(:class:`FlipPart`: integer counts, merged by addition, so every engine gives the same bytes).
:func:`finalize_counterfactual` turns the merged counts into the report's section
(statistics: :mod:`audit.fairness.flips`).

Swaps:

- a value swap replaces each value of a feature by its counterfactual value (``swap:`` in the
  spec; for a feature with exactly two values the default is the other one); rows with a missing
  value or a value without a counterfactual are left out;
- a text swap replaces, in one pass over each text, every listed word by its partner
  (``swap_lists``: a YAML file ``swaps: {he: she, she: he, John: Mary, ...}``, directed), matched
  as a whole word regardless of case and written in the case of the word it replaces ("He" ->
  "She", "HE" -> "SHE"). One pass means a replacement is never swapped again (he -> she -> he
  cannot chain). Which partner an ambiguous word gets (her -> his or him) is the list's choice.
  Rows whose text no listed word occurs in are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from audit import contract
from audit.contract.counterfactual import FlipComparison, FlipCounts
from audit.digest import sha256_file
from audit.errors import InputError
from audit.fairness.counts import _dense_codes, group_codes
from audit.fairness.flips import FLIP_RATE_METHOD, NET_CHANGE_METHOD, TEST, changed, paired
from audit.yamlio import load_model

Key = tuple[str | None, ...]
#: Distinct values of a swapped feature read before the pass (a default swap needs two).
MAX_VALUES = 10_000


class SwapList(BaseModel):
    """A ``swap_lists`` file: directed word pairs (each listed word and its replacement)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    swaps: dict[str, str] = Field(min_length=1, description="each word and the word replacing it")

    @field_validator("swaps")
    @classmethod
    def _words(cls, v: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for word, partner in v.items():
            for w in (word, partner):
                if not w.strip() or w != w.strip():
                    raise ValueError(f"{w!r}: words must be non-empty, without outer spaces")
            folded = word.casefold()
            if folded in seen:
                raise ValueError(
                    f"{word!r} and {seen[folded]!r} are the same word (matching ignores case)"
                )
            seen[folded] = word
        return v


@dataclass(frozen=True)
class WordSwap:
    """Single-pass, whole-word, case-insensitive swap of listed words, keeping their case."""

    pattern: re.Pattern[str]
    partners: Mapping[str, str]  # casefolded word -> replacement as written in the list
    sha256: str | None = None

    @classmethod
    def of(cls, swaps: Mapping[str, str], sha256: str | None = None) -> WordSwap:
        words = sorted(swaps, key=lambda w: (-len(w), w))  # longest first: "Johnson" before "John"
        alternation = "|".join(re.escape(w) for w in words)
        pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)
        return cls(pattern, {w.casefold(): p for w, p in swaps.items()}, sha256)

    def _replace(self, match: re.Match[str]) -> str:
        word = match.group(0)
        partner = self.partners[word.casefold()]
        if word.isupper() and len(word) > 1:
            return partner.upper()
        if word[:1].isupper():
            return partner[:1].upper() + partner[1:]
        if word.islower():
            return partner[:1].lower() + partner[1:]
        return partner

    def apply(self, text: str) -> str:
        return self.pattern.sub(self._replace, text)


@dataclass(frozen=True)
class Swap:
    """One comparison: a feature's values exchanged, or words swapped in a text column."""

    name: str  # the feature or text column
    kind: str  # "value" or "text"
    mapping: tuple[tuple[str, str], ...] = ()  # value swaps: (value, counterfactual value)
    words: WordSwap | None = None

    def meta(self) -> dict[str, Any]:
        if self.kind == "value":
            return {"kind": "value", "swap": dict(self.mapping)}
        assert self.words is not None
        meta: dict[str, Any] = {"kind": "text", "word_pairs": len(self.words.partners)}
        if self.words.sha256 is not None:
            meta["swap_lists_sha256"] = self.words.sha256
        return meta

    def twins(self, frame: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
        """Which rows the swap changes, and the swapped column (for those rows only)."""
        column = frame[self.name]
        if self.kind == "text":
            assert self.words is not None
            values = column.to_numpy(dtype=object)
            swapped = np.array(
                [self.words.apply(v) if isinstance(v, str) else v for v in values], dtype=object
            )
            mask = np.array(
                [isinstance(v, str) and v != s for v, s in zip(values, swapped, strict=True)],
                dtype=bool,
            )
            return mask, pd.Series(swapped[mask], dtype=column.dtype)
        codes, labels = group_codes(column)
        to = dict(self.mapping)
        target = np.array([to.get(label) for label in labels] + [None], dtype=object)
        mask = np.array([t is not None for t in target], dtype=bool)[codes]
        chosen = target[codes[mask]]
        values = [_typed(t, column.dtype, self.name) for t in chosen]
        if isinstance(column.dtype, pd.CategoricalDtype):
            cats = list(column.dtype.categories)
            extra = [v for v in dict.fromkeys(values) if v not in cats]
            dtype: Any = pd.CategoricalDtype(cats + extra, ordered=column.dtype.ordered)
            return mask, pd.Series(pd.Categorical(values, dtype=dtype))
        return mask, pd.Series(values, dtype=column.dtype if len(values) else object)


def _typed(label: str, dtype: Any, feature: str) -> Any:
    """The value of ``feature``'s type whose group label (``str``) is ``label``."""
    if isinstance(dtype, pd.CategoricalDtype):
        return _typed(label, dtype.categories.dtype, feature)
    try:
        if pd.api.types.is_bool_dtype(dtype):
            value: Any = {"True": True, "False": False}[label]
        elif pd.api.types.is_integer_dtype(dtype):
            value = int(label)
        elif pd.api.types.is_float_dtype(dtype):
            value = float(label)
        else:
            value = label
    except (KeyError, ValueError):
        value = None
    if value is None or str(value) != label:
        raise InputError(
            f"counterfactual: {label!r} is not a value of {feature!r} (a {dtype} column)",
            hint=f"write swap values as {feature!r}'s values appear in the report's groups",
        )
    return value


@dataclass(frozen=True)
class FlipPart:
    """Paired decision counts of some rows: per swap and joint key of the sensitive features,
    an int64 vector of 4 (binary: index 2 * favourable_before + favourable_after; otherwise
    index 0 same, 1 changed). Merged by addition: exact in any grouping and order."""

    sensitive: tuple[str, ...]
    swaps: tuple[tuple[str, dict[str, Any]], ...]  # (name, meta) in the plan's order
    binary: bool
    rows: int
    counts: dict[tuple[str, Key], np.ndarray] = field(default_factory=dict)

    def merge(self, other: FlipPart) -> FlipPart:
        counts = {k: v.copy() for k, v in self.counts.items()}
        for k, v in other.counts.items():
            if k in counts:
                counts[k] += v
            else:
                counts[k] = v.copy()
        return FlipPart(self.sensitive, self.swaps, self.binary, self.rows + other.rows, counts)


@dataclass(frozen=True)
class CounterfactualPlan:
    """The swaps an audit makes, shipped with the engine's plan to every partition."""

    swaps: tuple[Swap, ...]
    sensitive: tuple[str, ...]
    binary: bool
    name: str = "counterfactual"

    @classmethod
    def build(
        cls,
        spec: Any,
        model: Any,
        present: Sequence[str],
        *,
        base: Path | None = None,
        frame: pd.DataFrame | None = None,
        source: Any = None,
    ) -> CounterfactualPlan:
        """The swaps ``spec.counterfactual`` asks for, checked against the model's inputs and
        the dataset's values (``frame``: the in-memory data, or ``source``: an
        :class:`~audit.engine.sources.DataSource` to read the swapped columns from; without
        either every swap must be given in the spec). ``base``: the spec's folder, against
        which ``swap_lists`` resolves."""
        settings = spec.counterfactual
        if model is None:
            raise InputError(
                "counterfactual: flip tests decide every row again with a sensitive value "
                "swapped, which recorded decisions cannot do",
                hint="audit the model itself (model: ...), or remove counterfactual",
            )
        if spec.task == "regression":
            raise InputError(
                "counterfactual: flip tests count changed decisions (binary or multiclass); "
                "task: regression is not supported",
                hint="remove counterfactual from a regression audit",
            )
        inputs = model.feature_names or [
            c for c in present if c not in (spec.label, spec.id_column)
        ]
        features = (
            list(settings.features)
            if settings.features is not None
            else [f for f in spec.sensitive_features if f in inputs]
        )
        for f in [*features, *settings.text_columns]:
            if f not in inputs or f not in present:
                raise InputError(
                    f"counterfactual: {f!r} is not an input of the model (inputs: "
                    f"{', '.join(inputs[:12])}{' ...' if len(inputs) > 12 else ''})",
                    hint="flip only columns the model reads; a column it never sees cannot "
                    "change a decision",
                )
        named = [*features, *settings.text_columns]
        both = sorted(set(features) & set(settings.text_columns))
        twice = sorted({f for f in named if named.count(f) > 1} - set(both))
        if twice:
            raise InputError(f"counterfactual lists {', '.join(twice)} twice")
        if both:
            raise InputError(
                f"counterfactual: {', '.join(both)} is both a feature and a text column"
            )
        unknown = sorted(set(settings.swap) - set(features))
        if unknown:
            raise InputError(
                f"counterfactual.swap names {', '.join(unknown)}, which is not flipped "
                f"(features: {', '.join(features) or 'none'})",
                hint="list the feature under counterfactual.features, or remove its swap",
            )
        values = _distinct(frame, source, features)
        swaps = [_value_swap(f, settings.swap.get(f), values.get(f)) for f in features]
        if settings.text_columns:
            words = _word_swap(settings.swap_lists, base)
            swaps += [Swap(c, "text", words=words) for c in settings.text_columns]
        elif settings.swap_lists is not None:
            raise InputError(
                "counterfactual.swap_lists is given without text_columns",
                hint="name the text inputs whose words it swaps under text_columns",
            )
        if not swaps:
            raise InputError(
                "counterfactual: none of the sensitive features "
                f"({', '.join(spec.sensitive_features)}) is an input of the model, and no "
                "text_columns are named: there is nothing to flip",
                hint="name counterfactual.features or text_columns, or remove counterfactual",
            )
        return cls(tuple(swaps), tuple(spec.sensitive_features), spec.task == "binary")

    def summarise(self, plan: Any, frame: pd.DataFrame, first_row: int, decisions: Any) -> FlipPart:
        """Count one partition's paired decisions (``decisions``: the engine's, per row)."""
        index, keys = _joint_keys(frame, self.sensitive)
        original = np.asarray(decisions)
        counts: dict[tuple[str, Key], np.ndarray] = {}
        for swap in self.swaps:
            mask, column = swap.twins(frame)
            if not mask.any():
                continue
            twins = frame[mask].reset_index(drop=True)
            twins[swap.name] = column
            after = _decide(plan, twins)
            before = original[mask]
            if self.binary:
                cell = 2 * before.astype(np.int64) + after.astype(np.int64)
            else:
                cell = (before.astype(str) != after.astype(str)).astype(np.int64)
            tally = np.bincount(index[mask] * 4 + cell, minlength=4 * len(keys))
            for i, key in enumerate(keys):
                row = tally[4 * i : 4 * i + 4]
                if row.any():
                    counts[(swap.name, key)] = row.astype(np.int64)
        metas = tuple((s.name, s.meta()) for s in self.swaps)
        return FlipPart(self.sensitive, metas, self.binary, len(frame), counts)


def _decide(plan: Any, frame: pd.DataFrame) -> np.ndarray:
    """The model's decisions on ``frame``: a binary audit's by the engine's own call
    (``Plan._decide``: the favourable class from ``predict_proba`` where that is what
    ``predict`` means); otherwise the predicted class."""
    if plan.task == "binary":
        return np.asarray(plan._decide(frame)[0], dtype=bool)
    return np.asarray(plan.model.estimator.predict(plan._inputs(frame)))


def _joint_keys(frame: pd.DataFrame, sensitive: Sequence[str]) -> tuple[np.ndarray, list[Key]]:
    """Each row's index into the joint keys that occur (group labels, None for missing)."""
    combined = np.zeros(len(frame), dtype=np.int64)
    size = 1
    all_labels = []
    for name in sensitive:
        codes, labels = group_codes(frame[name])
        combined = combined * (len(labels) + 1) + (codes.astype(np.int64) + 1)
        size *= len(labels) + 1
        all_labels.append(labels)
    present, index = _dense_codes(combined, size)
    keys: list[Key] = []
    for code in present:
        parts: list[str | None] = []
        for labels in reversed(all_labels):
            code, digit = divmod(code, len(labels) + 1)
            parts.append(None if digit == 0 else labels[digit - 1])
        keys.append(tuple(reversed(parts)))
    return index.astype(np.int64), keys


def _distinct(frame: pd.DataFrame | None, source: Any, columns: list[str]) -> dict[str, list[str]]:
    """The group labels of ``columns`` (up to MAX_VALUES each), from the frame or the source."""
    if not columns or (frame is None and source is None):
        return {}
    found: dict[str, set[str]] = {c: set() for c in columns}
    batches = [frame[columns]] if frame is not None else source.batches(columns)
    for batch in batches:
        for c in columns:
            if len(found[c]) <= MAX_VALUES:
                found[c].update(group_codes(batch[c])[1])
    return {c: sorted(v) for c, v in found.items() if len(v) <= MAX_VALUES}


def _value_swap(feature: str, given: dict[str, str] | None, values: list[str] | None) -> Swap:
    """A feature's swap: as given (checked against its values when known), or the default."""
    shown = "" if values is None else f" (values: {', '.join(values[:10])})"
    if given is None:
        if values is None or len(values) != 2:
            how = "cannot be read" if values is None else f"has {len(values)} values{shown}"
            raise InputError(
                f"counterfactual: {feature!r} {how}; only a feature with exactly two values "
                "has a default swap",
                hint=f"give counterfactual.swap.{feature}: a mapping of each value to its "
                "counterfactual value",
            )
        return Swap(feature, "value", ((values[0], values[1]), (values[1], values[0])))
    if not given:
        raise InputError(f"counterfactual.swap.{feature} is empty", hint="map at least one value")
    if values is not None:
        bad = sorted({v for pair in given.items() for v in pair} - set(values))
        if bad:
            raise InputError(
                f"counterfactual.swap.{feature}: {', '.join(map(repr, bad))} is not a value of "
                f"{feature!r}{shown}",
                hint="write the values as the dataset holds them (they are case-sensitive)",
            )
    same = [k for k, v in given.items() if k == v]
    if same:
        raise InputError(f"counterfactual.swap.{feature} maps {same[0]!r} to itself")
    return Swap(feature, "value", tuple(sorted(given.items())))


def _word_swap(path: str | None, base: Path | None) -> WordSwap:
    if path is None:
        raise InputError(
            "counterfactual.text_columns needs swap_lists: the YAML file of word pairs to swap",
            hint="e.g. swaps: {he: she, she: he, his: her, her: his, John: Mary}",
        )
    file = Path(path) if Path(path).is_absolute() or base is None else base / path
    doc = load_model(file, SwapList)
    return WordSwap.of(doc.swaps, sha256_file(file))


def finalize_counterfactual(part: FlipPart, spec: Any, options: Any) -> contract.Counterfactual:
    """The report's counterfactual section from the merged counts (``options``: an
    :class:`audit.engine.finalize.FairnessOptions`; its ``confidence`` sets the intervals)."""
    confidence = float(options.confidence)
    comparisons: dict[str, FlipComparison] = {}
    for name, meta in part.swaps:
        mine = {key: v for (n, key), v in part.counts.items() if n == name}
        overall = sum(mine.values(), np.zeros(4, dtype=np.int64))
        groups: dict[str, dict[str, FlipCounts]] = {}
        for i, feature in enumerate(part.sensitive):
            labels = sorted({str(k[i]) for k in mine if k[i] is not None})
            groups[feature] = {
                g: _counts(
                    sum(
                        (v for k, v in mine.items() if k[i] == g),
                        np.zeros(4, dtype=np.int64),
                    ),
                    part.binary,
                    confidence,
                )
                for g in labels
            }
        compared = int(overall.sum())
        comparisons[name] = FlipComparison(
            **meta,
            rows=part.rows,
            unchanged=part.rows - compared,
            overall=_counts(overall, part.binary, confidence),
            groups=groups,
        )
    return contract.Counterfactual(
        confidence=confidence,
        flip_rate_method=FLIP_RATE_METHOD,
        **({"net_change_method": NET_CHANGE_METHOD, "test": TEST} if part.binary else {}),
        comparisons=comparisons,
    )


def _counts(vector: np.ndarray, binary: bool, confidence: float) -> FlipCounts:
    if not binary:
        s = changed(int(vector[0]), int(vector[1]), confidence)
        return FlipCounts(
            n=s.n, flips=s.flips, flip_rate=s.flip_rate, flip_rate_ci=_pair(s.flip_rate_ci)
        )
    s = paired(vector, confidence)
    return FlipCounts(
        n=s.n,
        flips=s.flips,
        flip_rate=s.flip_rate,
        flip_rate_ci=_pair(s.flip_rate_ci),
        favourable_kept=s.a,
        favourable_to_adverse=s.b,
        adverse_to_favourable=s.c,
        adverse_kept=s.d,
        net_change=s.net_change,
        net_change_ci=_pair(s.net_change_ci),
        mcnemar_statistic=s.mcnemar_statistic,
        mcnemar_p_value=s.mcnemar_p_value,
    )


def _pair(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]
