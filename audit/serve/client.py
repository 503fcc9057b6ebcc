"""``audit --server URL|unix:PATH COMMAND ...``: the CLI as a client of ``audit serve``.

The command runs in a service worker as the caller the service authenticates (the kernel's peer
credentials over a Unix socket; ``$AUDIT_TOKEN`` as a bearer token over HTTPS). Files the command
line names on this machine are uploaded with it (an audit spec with the policy and reason codes
it refers to, a model file to register, a bundle to verify); files it writes (``report export
DEST``, ``log export OUT``, ``keys export --out``) come back. Reports stay in the service.
Set ``$AUDIT_SERVER_CA`` to a PEM file to trust a private certificate authority.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..errors import AccessDenied, AuditError, InputError
from .argv import OUTPUT_OPTION_COMMANDS, is_output, leaf_command, path_values

#: parameters that name the service's own reports folder: never uploaded
SERVICE_PARAMS = {"output", "reports"}
#: arguments that always name something of the service's (approve approves its bundles only)
SERVICE_ONLY = {("approve", "bundle")}


class Upload:
    """The files to send and how the arguments name them."""

    def __init__(self) -> None:
        self.files: dict[str, Path] = {}
        self.outputs: dict[str, Path] = {}
        self._n = 0

    def slot(self) -> str:
        self._n += 1
        return str(self._n)

    def add_input(self, local: Path) -> str:
        """Upload ``local`` (a file, or every file of a folder); its name in the arguments."""
        slot = self.slot()
        name = f"{slot}/{local.name}"
        if local.is_dir():
            for path in sorted(local.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    self.files[f"{name}/{path.relative_to(local).as_posix()}"] = path
        else:
            self.files[name] = local
        return f"@in/{name}"

    def add_spec(self, spec: Path, overrides: Mapping[str, Any]) -> str:
        """Upload an audit spec with every file it refers to, keeping their relative layout."""
        from ..pipeline.paths import spec_paths
        from ..spec import load_spec

        resolved = load_spec(spec, dict(overrides))
        paths = [Path(os.path.abspath(spec))]
        paths += [Path(os.path.abspath(p)) for _, p in spec_paths(resolved) if p.is_file()]
        root = Path(os.path.commonpath([p.parent for p in paths]))
        slot = self.slot()
        for p in dict.fromkeys(paths):
            self.files[f"{slot}/{p.relative_to(root).as_posix()}"] = p
        return f"@in/{slot}/{paths[0].relative_to(root).as_posix()}"

    def add_output(self, local: Path) -> str:
        name = f"{self.slot()}/{local.name}"
        self.outputs[name] = local
        return f"@out/{name}"


def _replace(argv: list[str], value: str, new: str) -> list[str]:
    out = []
    for arg in argv:
        if arg == value:
            out.append(new)
        elif arg.startswith("--") and "=" in arg and arg.split("=", 1)[1] == value:
            out.append(arg.split("=", 1)[0] + "=" + new)
        else:
            out.append(arg)
    return out


def prepare(group: click.Group, argv: list[str]) -> tuple[list[str], Upload]:
    """The arguments to send, with the local files they name."""
    from click.core import ParameterSource

    command, ctx = leaf_command(group, argv)
    upload = Upload()
    if ctx is None:
        return argv, upload
    sent = list(argv)
    for param, value in path_values(ctx):
        name = param.name or ""
        if (
            ctx.get_parameter_source(name) != ParameterSource.COMMANDLINE
            or (name in SERVICE_PARAMS and command not in OUTPUT_OPTION_COMMANDS)
            or (command, name) in SERVICE_ONLY
        ):
            continue
        local = Path(value)
        if is_output(command, name):
            sent = _replace(sent, value, upload.add_output(local))
        elif command == "run" and name == "spec" and local.is_file():
            sent = _replace(sent, value, upload.add_spec(local, _overrides(ctx)))
        elif local.exists():
            sent = _replace(sent, value, upload.add_input(local))
    return sent, upload


def _overrides(ctx: click.Context) -> dict[str, Any]:
    keys = ("model", "dataset", "policy")
    return {k: ctx.params[k] for k in keys if ctx.params.get(k)}


def client(server: str) -> Any:
    """An httpx client for ``https://host:port`` or ``unix:/path/to.sock``."""
    import httpx

    timeout = httpx.Timeout(30.0, read=None)
    if server.startswith("unix:"):
        transport = httpx.HTTPTransport(uds=server.removeprefix("unix:"))
        return httpx.Client(transport=transport, base_url="http://audit-serve", timeout=timeout)
    if not server.startswith(("https://", "http://")):
        raise InputError(
            f"--server {server!r} is neither unix:PATH nor an http(s) URL",
            hint="e.g. --server unix:/run/audit/audit.sock or --server https://audit.example:8443",
        )
    ca = os.environ.get("AUDIT_SERVER_CA")
    try:
        verify: Any = ssl.create_default_context(cafile=ca) if ca else True
    except (OSError, ssl.SSLError) as exc:
        raise InputError(
            f"$AUDIT_SERVER_CA {ca}: cannot read it as PEM certificates ({exc})",
            hint="point it at the service's CA certificate (PEM)",
        ) from None
    return httpx.Client(base_url=server.rstrip("/"), timeout=timeout, verify=verify)


def run_remote(group: click.Group, server: str, argv: list[str], environ: Mapping[str, str]) -> int:
    """Run ``argv`` through the service; print its output; the command's exit code."""
    import httpx

    from ..safefs import write_file

    sent, upload = prepare(group, argv)
    headers = {}
    if environ.get("AUDIT_TOKEN"):
        headers["Authorization"] = f"Bearer {environ['AUDIT_TOKEN']}"
    handles = []
    try:
        files = []
        for name, path in upload.files.items():
            fh = open(path, "rb")  # noqa: SIM115 - closed below, after the request
            handles.append(fh)
            files.append(("file", (name, fh, "application/octet-stream")))
        with client(server) as http:
            reply = http.post(
                "/api/v1/cli", data={"argv": json.dumps(sent)}, files=files or None, headers=headers
            )
    except httpx.HTTPError as exc:
        raise InputError(
            f"cannot reach the audit service at {server}: {exc}",
            hint="check --server, that `audit serve` runs there, and $AUDIT_SERVER_CA for HTTPS",
        ) from None
    finally:
        for fh in handles:
            fh.close()
    body = _json(reply, server)
    if reply.status_code != 200:
        error = AccessDenied if reply.status_code in (401, 403) else InputError
        refused: AuditError = error(str(body.get("error")), hint=body.get("hint"))
        refused.exit_code = int(
            body.get("exit_code") or (4 if reply.status_code in (401, 403) else 2)
        )
        raise refused
    if body.get("stdout"):
        click.echo(body["stdout"], nl=False)
    if body.get("stderr"):
        click.echo(body["stderr"], nl=False, err=True)
    import base64

    for name, data in (body.get("files") or {}).items():
        local = upload.outputs.get(name)
        if local is not None:
            write_file(local, base64.b64decode(data))
    return int(body["exit_code"])


def _json(reply: Any, server: str) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InputError(
            f"{server} answered HTTP {reply.status_code} without a JSON body: is it audit serve?"
        )
    return body
