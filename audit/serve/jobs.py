"""``POST /api/v1/cli``: one CLI command run by a service worker, as the authenticated caller.

The client (:mod:`audit.serve.client`) sends the command line with each local file it names
uploaded (``@in/<path>`` in the arguments) and each file it wants back named ``@out/<path>``.
The service keeps the uploads in a private job folder, starts a worker process
(:mod:`audit.serve.worker`) in the service folder with the caller as the actor, and returns the
worker's exit code, its output and the files it wrote under ``@out/``. At most
``ServeConfig.jobs`` workers run at once; the others wait.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import sys
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..access import COMMAND_ACTIONS
from ..errors import AccessDenied, AuditError, InputError
from .api import caller, error_response, service_of
from .auth import csrf_ok
from .service import Unauthenticated

#: most bytes a request may upload, and a worker may print or hand back
MAX_UPLOAD = 2 << 30
MAX_OUTPUT = 64 << 20
#: most files one request may upload (a bundle folder, a reports folder to gate on)
MAX_FILES = 1000
#: the service's own AUDIT_* settings a worker inherits; the others (a token, a home, a server)
#: would make the worker someone or somewhere else. The rest of the service's environment (its
#: administrator's, never a caller's) passes: numeric libraries read theirs (OPENBLAS_CORETYPE
#: ...), and the same audit must give the same numbers as on the command line.
KEEP_AUDIT_ENV = ("AUDIT_KEY_PASSPHRASE", "AUDIT_PDF_WORKER")


def command_of(argv: list[str]) -> str:
    """The CLI command an argument list names (``report export``), or the first word."""
    words = [a for a in argv if not a.startswith("-")][:2]
    for n in (2, 1):
        if " ".join(words[:n]) in COMMAND_ACTIONS:
            return " ".join(words[:n])
    return words[0] if words else ""


def safe_relative(name: str) -> PurePosixPath:
    """An uploaded file's relative path, refusing absolute paths, ``..`` and empty parts."""
    rel = PurePosixPath(name)
    if (
        not name
        or rel.is_absolute()
        or any(p in ("", ".", "..") for p in rel.parts)
        or "\\" in name
        or "\x00" in name
        or str(rel) != name  # "a//b" would be "a/b": two names for one file
    ):
        raise InputError(f"upload name {name!r} is not a plain relative path")
    return rel


async def _save_uploads(form: Any, into: Path) -> int:
    total = 0
    for key, value in form.multi_items():
        if key != "file" or not isinstance(value, UploadFile):
            continue
        rel = safe_relative(value.filename or "")
        target = into.joinpath(*rel.parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(target, "xb") as out:
                while chunk := await value.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_UPLOAD:
                        raise InputError(f"the upload is larger than {MAX_UPLOAD >> 30} GiB")
                    out.write(chunk)
        except FileExistsError:
            raise InputError(
                f"upload name {value.filename!r} is given twice (or is the folder of another)",
                hint="upload each file once, under its own name",
            ) from None
        except OSError as exc:
            raise InputError(
                f"upload name {value.filename!r} cannot be saved: {exc.strerror}",
                hint="use short plain names (letters, digits, '.', '_', '-')",
            ) from None
    return total


def bounded(request: Request, limit: int) -> Request:
    """``request`` whose body is refused (InputError) past ``limit`` bytes: the declared
    Content-Length before anything is read, and the bytes actually received while reading
    (a chunked body declares nothing)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InputError(f"the request body is larger than {limit >> 20} MiB")
    seen = 0
    receive = request.receive

    async def counted() -> Any:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise InputError(f"the request body is larger than {limit >> 20} MiB")
        return message

    return Request(request.scope, counted)


def _collect(out_dir: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    size = 0
    for path in sorted(out_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            size += len(data)
            if size > MAX_OUTPUT:
                raise InputError(f"the command's output files exceed {MAX_OUTPUT >> 20} MiB")
            files[path.relative_to(out_dir).as_posix()] = base64.b64encode(data).decode()
    return files


async def cli_job(request: Request) -> Response:
    """Authenticate (from the headers: an anonymous body is never read), read the form, run
    the command in a worker. Every refusal made here is logged, as the worker logs its own."""
    service = service_of(request)
    try:
        found = await asyncio.to_thread(caller, request, "cli", "cli")
    except Unauthenticated as exc:
        return error_response(exc, 401)
    except AuditError as exc:
        return error_response(exc)
    command, action = "", "cli"
    form: Any = None
    try:
        try:
            if found.via == "cookie" and not csrf_ok(
                found.csrf, request.headers.get("x-csrf-token")
            ):
                raise AccessDenied("CSRF check failed", hint="reload the page")
            form = await bounded(request, MAX_UPLOAD + (64 << 20)).form(
                max_files=MAX_FILES, max_fields=100
            )
            argv = _argv(form)
            command = command_of(argv)
            action = COMMAND_ACTIONS.get(command, "cli")
            if command not in COMMAND_ACTIONS:
                raise InputError(
                    f"{' '.join(argv)[:200]!r} names no command that audit serve runs",
                    hint="run --help locally: `audit COMMAND --help` prints without the service",
                )
            job = service.config.job_root / uuid.uuid4().hex
            (job / "in").mkdir(parents=True, mode=0o700)
            (job / "out").mkdir(mode=0o700)
            try:
                await _save_uploads(form, job / "in")
                result = await run_worker(service, found.actor, argv, job)
            finally:
                shutil.rmtree(job, ignore_errors=True)
        except HTTPException as exc:  # the form parser's limits (files, fields, sizes)
            raise InputError(f"the request's form is refused: {exc.detail}") from None
        finally:
            if form is not None:
                await form.close()
    except AuditError as exc:
        reason = f"refused before the command ran: {exc.message}"
        await asyncio.to_thread(service.log, found.actor, action, f"cli:{command}", "deny", reason)
        return error_response(exc)
    return JSONResponse(result)


def _argv(form: Any) -> list[str]:
    try:
        argv = json.loads(str(form.get("argv") or "[]"))
    except json.JSONDecodeError:
        argv = None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise InputError("field 'argv' must be a JSON list of strings")
    return argv


async def run_worker(service: Any, actor: Any, argv: list[str], job: Path) -> dict[str, Any]:
    """Run ``argv`` in a worker as ``actor`` (bounded by the service's job slots)."""
    config = service.config
    spec = {
        "argv": argv,
        "actor": {
            "user": actor.user,
            "uid": actor.uid,
            "source": actor.source,
            "groups": list(actor.groups),
            "roles": None if actor.roles is None else list(actor.roles),
            "token_id": actor.token_id,
        },
        "folder": str(config.folder),
        "database": config.database,
        "job": str(job),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_") or k in KEEP_AUDIT_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    async with service.job_slots:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",
            "-m",
            "audit.serve.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=config.folder,
            env=env,
        )
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(json.dumps(spec).encode()), timeout=config.job_timeout_s
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise InputError(
                f"the command ran longer than {config.job_timeout_s:.0f} s and was stopped"
            ) from None
    return {
        "exit_code": proc.returncode,
        "stdout": out[-MAX_OUTPUT:].decode("utf-8", "replace"),
        "stderr": err[-MAX_OUTPUT:].decode("utf-8", "replace"),
        "files": _collect(job / "out"),
    }
