"""The audit spec's settings for the tasks beyond binary classification (issue #20): model
endpoints, counterfactual flip tests and shift scenarios. :mod:`audit.spec` holds the spec."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: What an audit judges: a favourable/adverse decision, one of several classes, or a number.
Task = Literal["binary", "multiclass", "regression"]


class EndpointSettings(BaseModel):
    """How a model behind an HTTP endpoint (``model: endpoint+https://...``) is called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal["auto", "mlflow", "kserve-v2"] = Field(
        "auto",
        description="auto: kserve-v2 when the path holds /v2/models/<name>, else mlflow "
        "(POST .../invocations)",
    )
    output: Literal["probabilities", "labels", "values"] = Field(
        "probabilities",
        description="what the endpoint answers per row: class probabilities (in the order of "
        "`classes`), class labels, or numbers (regression)",
    )
    classes: list[str | int | float | bool] | None = Field(
        None, description="the model's classes in the order of its probability columns"
    )
    features: list[str] | None = Field(
        None,
        description="the input columns sent, in order (default: the server's metadata, "
        "else every column that is not the label, a prediction or the id column)",
    )
    batch_rows: int = Field(1000, ge=1, description="rows per request")
    max_retries: int = Field(5, ge=0, description="retries of a failed or throttled request")
    requests_per_second: float | None = Field(
        None, gt=0, description="at most this many requests per second (none: no limit)"
    )
    timeout_s: float = Field(30.0, gt=0, description="seconds to wait for one response")
    ca_file: str | None = Field(
        None, description="PEM file of the CA that signed the server's certificate"
    )
    token_env: str | None = Field(
        None, description="environment variable holding a bearer token (never written anywhere)"
    )


class CounterfactualSettings(BaseModel):
    """Counterfactual flip tests: swap a sensitive value (or words in a text input) and count
    how often the decision changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: list[str] | None = Field(
        None, description="sensitive features to flip (default: those that are model inputs)"
    )
    swap: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="per feature, each value's counterfactual value (default for a feature "
        "with two values: the other one)",
    )
    text_columns: list[str] = Field(
        default_factory=list, description="text inputs whose words `swap_lists` swaps"
    )
    swap_lists: str | None = Field(
        None,
        description="YAML file of directed word pairs for text_columns (``swaps: {he: she, "
        "she: he, John: Mary}``), relative to the spec's folder; each text is swapped in one "
        "whole-word, case-keeping pass (docs/counterfactual.md)",
    )


class ShiftScenario(BaseModel):
    """One reweighting of a sensitive feature's group shares (``shift:`` in the spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="names the scenario in the report and in rules")
    feature: str
    group: str
    change: float | None = Field(
        None,
        description="add this to the group's share (0.10: ten points more); the new share must "
        "stay strictly between 0 and 1",
    )
    share: float | None = Field(
        None, description="the group's share in the scenario, strictly between 0 and 1"
    )

    @model_validator(mode="after")
    def _one_of(self) -> ShiftScenario:
        if (self.change is None) == (self.share is None):
            raise ValueError(f"scenario {self.id!r}: give exactly one of `change` or `share`")
        if self.share is not None and not 0 < self.share < 1:
            raise ValueError(
                f"scenario {self.id!r}: share: {self.share} must be strictly between 0 and 1 "
                "(a share of 0 or 1 leaves no group to reweight)"
            )
        if self.change is not None and not -1 < self.change < 1:
            raise ValueError(
                f"scenario {self.id!r}: change: {self.change} must be strictly between -1 and 1"
            )
        return self
