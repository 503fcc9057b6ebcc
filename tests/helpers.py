"""Small helpers shared by tests."""

from __future__ import annotations

from typing import Any

from audit.contract import Section

#: A one-rule policy on accuracy; ``.format(threshold=0.5)`` passes the German sample model,
#: ``0.99`` fails it.
ACCURACY_POLICY = """\
apiVersion: audit/v1
kind: Policy
name: lenient
version: "1"
rules:
  - id: accuracy
    kind: performance
    metric: accuracy
    operator: ">="
    threshold: {threshold}
"""


def as_json(section: Any) -> Any:
    """JSON data of a typed report section (or a dict of them), as written to report.json."""
    if isinstance(section, Section):
        return section.to_json()
    if isinstance(section, dict):
        return {k: as_json(v) for k, v in section.items()}
    return section


def _filler(annotation: Any) -> Any:
    """A neutral value for a required field a hand-written test section leaves out."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _filler(args[0])
    if origin in (typing.Union, types.UnionType):
        if type(None) in args:
            return None
        return _filler(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin in (list, tuple):
        return []
    if origin is dict:
        return {}
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return complete(annotation, {})
    return {int: 0, float: 0.0, str: "", bool: False}.get(annotation)


def complete(model: Any, data: Any) -> Any:
    """``data`` (a partial, hand-written section) as the typed ``model``, with every required
    field it leaves out set to a neutral value (None, 0, "" or empty) - so rule tests can state
    only the numbers a rule reads. Nested sections are completed too."""
    import types
    import typing

    def fit(annotation: Any, value: Any) -> Any:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            return fit(args[0], value)
        if origin in (typing.Union, types.UnionType):
            flat: list[Any] = []
            for a in args:  # Optional[Annotated[A | B, discriminator]] -> A, B
                while typing.get_origin(a) is typing.Annotated:
                    a = typing.get_args(a)[0]
                inner = (
                    typing.get_args(a)
                    if typing.get_origin(a) in (typing.Union, types.UnionType)
                    else (a,)
                )
                flat += inner
            sections = [a for a in flat if isinstance(a, type) and issubclass(a, Section)]
            if isinstance(value, dict) and sections:
                if len(sections) > 1 and "status" in value:  # discriminated on status
                    for s in sections:
                        status = s.model_fields.get("status")
                        if status is not None and value["status"] in typing.get_args(
                            status.annotation
                        ):
                            return complete(s, value)
                return complete(sections[0], value)
            return value
        if origin is dict and isinstance(value, dict):
            return {k: fit(args[1], v) for k, v in value.items()}
        if origin is list and isinstance(value, list):
            return [fit(args[0], v) for v in value]
        if isinstance(annotation, type) and issubclass(annotation, Section):
            return complete(annotation, value) if isinstance(value, dict) else value
        return value

    if isinstance(data, Section):
        return data
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in data:
            out[key] = fit(field.annotation, data[key])
        elif field.is_required():
            out[key] = _filler(field.annotation)
    return model.model_validate(out)


def evidence(
    fairness: Any, performance: Any, explanations: Any, data: Any = None, **kw: Any
) -> Any:
    """Rules' Evidence from hand-written partial sections (see :func:`complete`)."""
    from audit import contract
    from audit.contract.explanations import ExplanationsComputed, Skipped
    from audit.policy import Evidence

    ex_model = Skipped if explanations.get("status") == "skipped" else ExplanationsComputed
    return Evidence(
        fairness={k: complete(contract.FeatureFairness, v) for k, v in fairness.items()},
        performance=complete(contract.Performance, performance),
        explanations=complete(ex_model, explanations),
        data=None if data is None else complete(contract.DataProfile, data),
        **kw,
    )


class AnchorLog:
    """A real access log with its own log key, to anchor bundles built by hand in tests (what
    ``audit run`` does after signing), and the keyring entries a verifier needs for it."""

    def __init__(self, folder: Any) -> None:
        from pathlib import Path

        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from audit.access import AccessLog, Actor

        self.key = Ed25519PrivateKey.generate()
        self.log = AccessLog(Path(folder) / "access.db")
        self.actor = Actor(user="tester", uid=1000)

    def anchor(self, folder: Any, signer_keyid: str) -> Any:
        from pathlib import Path

        from audit.bundles.bundle import read_report
        from audit.pipeline.anchoring import anchor_bundle

        folder = Path(folder)
        report = read_report(folder / "report.json")
        return anchor_bundle(
            folder, report, self.log, self.key, self.actor, "00" * 32, signer_keyid
        )

    def keyring(self, exported: Any) -> Any:
        """Add this log's key (purpose log) to the keyring file ``exported``; return its path."""
        import json
        from datetime import UTC, datetime, timedelta

        from audit.signing.dsse import keyid_of
        from audit.signing.keys import KeyRecord

        pub = self.key.public_key()
        now = datetime.now(UTC).replace(microsecond=0)
        record = KeyRecord(
            keyid_of(pub), pub, now - timedelta(days=30), now + timedelta(days=30), purpose="log"
        )
        doc = json.loads(exported.read_text())
        doc["keys"] = [k for k in doc["keys"] if k.get("purpose") != "log"] + [record.to_json()]
        exported.write_text(json.dumps(doc, indent=2))
        return exported


def light_spec(sample: Any, dest: Any, *, n_bootstrap: int = 100, **changes: Any) -> Any:
    """A copy of a shipped sample's audit.yaml (``sample``: its folder) written to the folder
    ``dest``, paths made absolute, that leaves out what costs the most time in an audit and is
    not what most tests look at: the proxy models and the stability re-explanations (not
    computed), and most bootstrap resamples (``n_bootstrap``). The spec's
    ``output`` is dropped (pass --output). ``changes`` set top-level keys (None deletes one).
    Returns the spec's path."""
    from pathlib import Path

    import yaml

    sample, dest = Path(sample), Path(dest)
    doc = yaml.safe_load((sample / "audit.yaml").read_text("utf-8"))
    for key in ("model", "dataset", "reference_dataset", "policy"):
        if key in doc:
            doc[key] = str((sample / doc[key]).resolve())
    doc.pop("output", None)
    explain = dict(doc.get("explain") or {})
    if explain.get("reason_codes"):
        explain["reason_codes"] = str((sample / explain["reason_codes"]).resolve())
    doc["explain"] = {**explain, "proxy_model_rows": 0, "stability_replicas": 0}
    doc["fairness"] = {**(doc.get("fairness") or {}), "n_bootstrap": n_bootstrap}
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    dest.mkdir(parents=True, exist_ok=True)
    spec = dest / "audit.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return spec
