"""The multiclass section of report.json (``task: multiclass``): one-vs-rest fairness per class.

For each class ``c`` the decisions "predicted c" and outcomes "is c" are a binary problem, and
``by_class[c]`` is exactly the binary fairness section of that problem (every rate, interval,
test and disparity of :mod:`audit.contract.fairness`), computed from the same confusion counts.
``macro`` and ``worst`` summarise the classes per feature:

- ``macro[f].summaries[m]``: the mean over classes of the between-group summary ``m``
  (``demographic_parity_difference`` ...), over the classes where it is defined;
- ``macro[f].groups[g][r]``: the mean over classes of group ``g``'s rate ``r`` (``tpr`` is the
  group's macro recall), over the classes where it is defined;
- ``worst[f][m]``: the class with the largest difference (the smallest ratio) and its value.
"""

from __future__ import annotations

from pydantic import Field

from .base import Section
from .fairness import FeatureFairness
from .sections import Performance


class MacroFeature(Section):
    """Means over the classes of one feature's summaries and of each group's rates."""

    #: between-group summary -> its mean over the classes where it is defined (None: nowhere)
    summaries: dict[str, float | None]
    #: group -> rate -> its mean over the classes where it is defined
    groups: dict[str, dict[str, float | None]]
    #: how many classes each summary's mean is over
    classes_defined: dict[str, int] = Field(default_factory=dict)


class WorstClass(Section):
    """The class where a between-group summary is worst, and its value there."""

    class_: str = Field(alias="class")
    value: float


class Multiclass(Section):
    """Fairness per class of a multiclass model (``Report.multiclass``)."""

    #: every class, in the model's (or the spec's) order, as text
    classes: list[str]
    #: how classes are compared: each against all the others
    scheme: str = "one-vs-rest"
    #: class -> feature (or intersection) -> the binary fairness section of "is this class"
    by_class: dict[str, dict[str, FeatureFairness]]
    #: class -> one-vs-rest performance (accuracy, precision, recall, F1 of "is this class")
    performance_by_class: dict[str, Performance]
    #: feature -> means over the classes
    macro: dict[str, MacroFeature]
    #: feature -> summary -> the worst class (summaries undefined for every class are left out)
    worst: dict[str, dict[str, WorstClass]]
    #: the seed of each class's bootstrap (derived from the audit's seed and the class)
    seeds: dict[str, int] = Field(default_factory=dict)
