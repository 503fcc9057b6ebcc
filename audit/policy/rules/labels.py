"""Rules that need the true outcome: in an audit with no label they are skipped, never passed.

An audit of decisions or scores alone (a hiring audit under NYC LL144 has no ground truth) can
judge selection and scoring rates and impact ratios, but no metric that compares a decision with
the outcome. Which rules need the label, by kind:

- ``fairness``, ``performance``, ``data``: the metric is one of
  :data:`audit.contract.metrics.LABEL_METRICS` (TPR, FPR, PPV ..., AUC, ECE, equalized odds,
  accuracy, recall ..., label balance);
- ``regression``: the watched metric is one of them (a comparison needs it in this audit);
- ``drift``: ``target: label``.

:func:`label_skip` gives such a rule's finding, "not assessable: the audit has no label";
:func:`audit.policy.evaluate` applies it before a rule judges, so no kind can pass one.
"""

from __future__ import annotations

from typing import Any

from ...contract import NO_LABEL
from ...contract.metrics import LABEL_METRICS
from ..findings import Finding
from .judging import skip


def needs_label(rule: Any) -> bool:
    """Whether ``rule`` compares with the true outcome (see the module doc)."""
    if rule.kind in ("fairness", "performance", "data", "regression"):
        return rule.metric in LABEL_METRICS
    if rule.kind == "drift":
        return rule.target == "label"
    return False


def no_label(rule: Any, **kw: Any) -> Finding:
    """The finding of a rule that needs the label, in an audit that has none."""
    return skip(rule, NO_LABEL, **kw)


def label_skip(rule: Any) -> Finding | None:
    """``rule``'s "not assessable: the audit has no label" finding, or None if it needs no
    label. The finding states what the kind's findings state (threshold, operator, mode)."""
    if not needs_label(rule):
        return None
    if rule.kind == "regression":
        return no_label(rule, threshold=rule.tolerance, operator="<=")
    if rule.kind == "drift":
        return no_label(rule, metric="psi", operator="<=", threshold=rule.threshold)
    if rule.kind == "fairness":
        return no_label(rule, mode=rule.mode)
    return no_label(rule)
