"""docs/reference.md documents every key of the audit spec and of a policy: it equals what
audit.policy.reference generates from the validating models, and every property of the
published JSON Schemas (the spec's, the policy's and each rule kind's) appears in it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit.policy.reference import reference_markdown
from audit.policy.schema import policy_json_schema
from audit.spec import AuditSpec

DOC = Path(__file__).resolve().parent.parent / "docs" / "reference.md"


def keys(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every property path of a JSON Schema (nested objects as dotted paths)."""
    for name, prop in schema.get("properties", {}).items():
        yield prefix + name
        for sub in _objects(prop, defs):
            if sub.get("properties") and sub is not schema:
                yield from keys(sub, defs, f"{prefix}{name}.")


def _objects(prop: dict[str, Any], defs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "$ref" in prop:
        yield defs[prop["$ref"].rsplit("/", 1)[1]]
    for key in ("anyOf", "oneOf", "allOf"):
        for option in prop.get(key, []):
            yield from _objects(option, defs)
    if (
        prop.get("type") == "array"
        and isinstance(prop.get("items"), dict)
        and "$ref" in prop["items"]
    ):
        yield from _objects(prop["items"], defs)


def test_the_reference_is_generated() -> None:
    text = reference_markdown()
    if os.environ.get("AUDIT_UPDATE_GOLDEN") == "1":
        DOC.write_text(text, "utf-8")
    assert DOC.read_text("utf-8") == text, (
        "regenerate: python -m audit.policy.reference > docs/reference.md"
    )


def test_every_spec_key_is_documented() -> None:
    schema = AuditSpec.model_json_schema(by_alias=True)
    text = DOC.read_text("utf-8")
    found = list(keys(schema, schema.get("$defs", {})))
    assert "explain.reason_codes" in found and "engine.batch_rows" in found
    missing = [k for k in found if f"| `{k}` |" not in text]
    assert missing == []


def test_every_policy_and_rule_key_is_documented() -> None:
    schema = policy_json_schema()
    defs = schema.get("$defs", {})
    text = DOC.read_text("utf-8")
    top = [k for k in keys(schema, defs) if not k.startswith("rules.")]
    assert "min_group_size" in top and "waivers" in top
    assert [k for k in top if k != "rules" and f"`{k}`" not in text] == []
    kinds = [
        d
        for d in defs.values()
        if "kind" in d.get("properties", {}) and "id" in d.get("properties", {})
    ]
    assert len(kinds) >= 9
    for rule in kinds:
        (kind,) = rule["properties"]["kind"].get("enum") or [rule["properties"]["kind"]["const"]]
        section = text[text.index(f"### `kind: {kind}`") :]
        section = section[
            : section.find("\n### `kind:", 1) if "\n### `kind:" in section[1:] else len(section)
        ]
        missing = [k for k in rule["properties"] if k != "kind" and f"| `{k}` |" not in section]
        assert missing == [], kind


def test_reason_code_files_have_a_published_schema() -> None:
    """audit/schemas/reason-codes.schema.json is generated from the model that validates
    reason-code files; every shipped file passes it (jsonschema, an independent validator) and
    one with a misspelt key or an empty wording does not."""
    import json

    import jsonschema
    import yaml

    from audit.explain.reasons import reason_codes_schema

    root = DOC.parent.parent
    shipped = json.loads(
        (root / "audit" / "schemas" / "reason-codes.schema.json").read_text("utf-8")
    )
    assert shipped == reason_codes_schema(), "regenerate audit/schemas/reason-codes.schema.json"
    files = sorted((root / "policies" / "reason-codes").glob("*.yaml"))
    assert len(files) >= 2
    for path in files:
        jsonschema.validate(yaml.safe_load(path.read_text("utf-8")), shipped)
    bad = {"name": "x", "reasons": {"age": {"code": "R01", "txt": "Age"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, shipped)
    empty = {"name": "x", "reasons": {"age": {"code": "R01", "text": ""}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(empty, shipped)
