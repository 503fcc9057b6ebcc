"""``audit keys``: the signing identity (create, export the public keyring, rotate)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    FILE,
    AuditGroup,
    guard,
    keys_option,
    passphrase_option,
    relative,
    session,
    valid_days_option,
)


@click.group(cls=AuditGroup)
def keys() -> None:
    """Manage the signing identity (Ed25519 attestation key, local CA, PDF signing certificate)."""


@keys.command("init")
@keys_option()
@passphrase_option()
@click.option("--name", "common_name", required=True, help="Signer name in the certificate.")
@valid_days_option()
def keys_init(
    keys_dir: Path | None, passphrase_file: Path | None, common_name: str, valid_days: int
) -> None:
    """Create a signing identity (private keys written 0600, optionally encrypted) and enroll
    its key as a bundle key of the home's trust configuration."""
    from ..pipeline.trust import enroll_identity
    from ..signing import init_identity

    s = session()
    folder = s.keys_dir(keys_dir)
    actor = guard("keys init", "keys")
    ident = init_identity(
        folder,
        common_name=common_name,
        passphrase=s.passphrase(passphrase_file),
        valid_days=valid_days,
    )
    ctx = s.access
    enroll_identity(s.home, ctx.log, actor, ctx.rbac.sha256, ident)
    click.echo(f"created signing identity in {relative(folder)}  key id {ident.keyid}")


@keys.command("export")
@click.option(
    "--out",
    required=True,
    type=FILE,
    help="Where to write the public keyring (JSON).",
)
def keys_export(out: Path) -> None:
    """Write the public keyring that verifiers trust: every key of the home's trust
    configuration with its purpose and window (no private keys)."""
    import json

    from ..safefs import write_file
    from ..signing.keys import keyring_document

    guard("keys export", "keys")
    ring = session().trust().keyring
    write_file(out, json.dumps(keyring_document(ring), indent=2) + "\n")
    click.echo(f"wrote {out} ({len(ring.keys)} key(s)); give it to whoever verifies your reports")


@keys.command("rotate")
@keys_option()
@passphrase_option()
@valid_days_option()
def keys_rotate(keys_dir: Path | None, passphrase_file: Path | None, valid_days: int) -> None:
    """Replace the signing keys; the new key is announced in a statement signed by the old one,
    and the rotation is an access-log entry whose time retires the old key."""
    from ..pipeline.trust import record_rotation
    from ..signing import rotate_identity

    s = session()
    actor = guard("keys rotate", "keys")
    rot = rotate_identity(
        s.keys_dir(keys_dir),
        passphrase=s.passphrase(passphrase_file),
        valid_days=valid_days,
    )
    ctx = s.access
    record_rotation(s.home, ctx.log, actor, ctx.rbac.sha256, rot.identity, rot.old_keyid)
    click.echo(f"rotated {rot.old_keyid[:16]} -> {rot.new_keyid[:16]}; statement: {rot.statement}")
    click.echo("export the keyring again and send it to verifiers")
