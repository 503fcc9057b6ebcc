"""The counterfactual section of report.json: how often decisions flip when a sensitive value
(or a name or pronoun in a text input) is swapped.

For every row whose input the swap changes, the model decides twice: on the row as it is and on
its counterfactual twin. With favourable = the positive decision (binary audits), the paired
outcomes form McNemar's table::

                     counterfactual favourable   counterfactual adverse
    favourable                 a                           b
    adverse                    c                           d

- ``flip_rate`` = (b + c) / n: the share of decisions the swap changes (Jeffreys interval);
- ``net_change`` = (c - b) / n: the change in the favourable rate the swap causes (positive: the
  counterfactual is decided more favourably), with the Agresti-Min adjusted Wald interval for a
  difference of paired proportions;
- McNemar's exact test of b = c: the two-sided binomial test of b successes in b + c trials at
  1/2 (statistic min(b, c), as statsmodels reports it); p = 1 when b + c = 0.

A multiclass audit has no favourable class: only ``flips`` (the decision changed) and
``flip_rate`` are given.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Interval, Section


class FlipCounts(Section):
    """The paired decisions of some rows, before and after the swap."""

    #: rows compared (their input was changed by the swap)
    n: int = Field(ge=0)
    #: decisions the swap changed (b + c)
    flips: int = Field(ge=0)
    flip_rate: float | None
    flip_rate_ci: Interval | None
    #: favourable before and after (a); favourable to adverse (b); adverse to favourable (c);
    #: adverse before and after (d). Binary audits only.
    favourable_kept: int | None = Field(None, ge=0)
    favourable_to_adverse: int | None = Field(None, ge=0)
    adverse_to_favourable: int | None = Field(None, ge=0)
    adverse_kept: int | None = Field(None, ge=0)
    net_change: float | None = None
    net_change_ci: Interval | None = None
    mcnemar_statistic: int | None = Field(None, ge=0)
    mcnemar_p_value: float | None = None

    def metric(self, name: str) -> float | None:
        """``flip_rate`` or ``net_change`` (None where undefined)."""
        value = getattr(self, name, None)
        return None if value is None else float(value)

    def interval(self, name: str) -> list[float] | None:
        return getattr(self, f"{name}_ci", None)


class FlipComparison(Section):
    """One swap: a sensitive feature's values exchanged, or words swapped in a text column."""

    kind: Literal["value", "text"]
    #: value swaps: each value's counterfactual value
    swap: dict[str, str] | None = None
    #: text swaps: how many directed word pairs were applied, and the list file's digest
    word_pairs: int | None = Field(None, ge=0)
    swap_lists_sha256: str | None = None
    #: rows seen; rows the swap left unchanged (a missing value, a value without a
    #: counterfactual, a text without any listed word): those are not compared
    rows: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    overall: FlipCounts
    #: by sensitive feature and group (each row in the group of its original value)
    groups: dict[str, dict[str, FlipCounts]] = Field(default_factory=dict)


class Counterfactual(Section):
    """Counterfactual flip tests (``Report.counterfactual``), by swapped feature or text column."""

    confidence: float = Field(gt=0, lt=1)
    flip_rate_method: str
    net_change_method: str | None = None
    test: str | None = None
    comparisons: dict[str, FlipComparison]
