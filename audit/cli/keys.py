"""``audit keys``: the signing identity (create, export the public keyring, rotate)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    FILE,
    guard,
    keys_option,
    passphrase_option,
    relative,
    session,
    valid_days_option,
)


@click.group()
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
    """Create a signing identity (private keys written 0600, optionally encrypted)."""
    from ..signing import init_identity

    folder = session().keys_dir(keys_dir)
    guard("keys init", "keys")
    ident = init_identity(
        folder,
        common_name=common_name,
        passphrase=session().passphrase(passphrase_file),
        valid_days=valid_days,
    )
    click.echo(f"created signing identity in {relative(folder)}  key id {ident.keyid}")


@keys.command("export")
@keys_option()
@click.option(
    "--out",
    required=True,
    type=FILE,
    help="Where to write the public keyring (JSON).",
)
def keys_export(keys_dir: Path | None, out: Path) -> None:
    """Write the public keyring that verifiers trust (no private keys)."""
    from ..signing import export_keyring

    guard("keys export", "keys")
    ring = export_keyring(session().keys_dir(keys_dir), out)
    click.echo(f"wrote {out} ({len(ring.keys)} key(s)); give it to whoever verifies your reports")


@keys.command("rotate")
@keys_option()
@passphrase_option()
@valid_days_option()
def keys_rotate(keys_dir: Path | None, passphrase_file: Path | None, valid_days: int) -> None:
    """Replace the signing keys; the new key is announced in a statement signed by the old one."""
    from ..signing import rotate_identity

    guard("keys rotate", "keys")
    rot = rotate_identity(
        session().keys_dir(keys_dir),
        passphrase=session().passphrase(passphrase_file),
        valid_days=valid_days,
    )
    click.echo(f"rotated {rot.old_keyid[:16]} -> {rot.new_keyid[:16]}; statement: {rot.statement}")
    click.echo("export the keyring again and send it to verifiers")
