"""One invocation's context: the audit home, the environment and working folder it was given,
and the access context (RBAC + access log), opened on first use.

The CLI (or a service) builds one :class:`Session` per command from its own argv, environment and
working folder; nothing here reads ``os.environ`` or prints (notices go to ``notify``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..access import COMMAND_ACTIONS, AccessContext, Actor, authorize, bootstrap_rbac, open_access
from ..errors import InputError, IntegrityError
from ..registry import Registry, default_home

if TYPE_CHECKING:
    from ..signing.trust import TrustDocument


def display_path(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd`` when it is inside it, else as given (for messages)."""
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def report_resource(target: Path) -> str:
    """The RBAC resource of a bundle folder or its report.json: ``report:<name>/v<N>``."""
    folder = target.parent if target.name == "report.json" else target
    return f"report:{folder.parent.name}/{folder.name}"


class Session:
    """``home`` is the audit home (registry, keys, rbac.yaml, access.db); ``environ`` is the
    environment to honour ($AUDIT_TOKEN, $AUDIT_KEY_PASSPHRASE; never a source of trusted keys); ``notify``
    receives notices for a human (first use of a home, a new signing identity). ``actor`` is the
    caller an authenticating service established (``audit serve``); without it, the OS account of
    this process."""

    def __init__(
        self,
        home: Path,
        environ: Mapping[str, str],
        *,
        cwd: Path,
        notify: Callable[[str], None] | None = None,
        actor: Actor | None = None,
        database: str | None = None,
    ) -> None:
        self.home = home
        self.actor = actor
        self.database = database
        #: set by a service worker: the only folders a command may read or write (its job's
        #: uploads and outputs, the service's reports); audits then use registered artifacts only
        self.roots: tuple[Path, ...] | None = None
        #: access decisions made (and logged) through :meth:`guard`
        self.decisions = 0
        self.environ = dict(environ)
        self.cwd = cwd
        self.notify = notify or (lambda message: None)
        self._access: AccessContext | None = None
        self._trust_error: IntegrityError | None = None

    @classmethod
    def at(
        cls, cwd: Path, environ: Mapping[str, str], notify: Callable[[str], None] | None = None
    ) -> Session:
        """The session whose home is $AUDIT_HOME, else ``cwd/.audit``."""
        return cls(default_home(cwd, dict(environ)), environ, cwd=cwd, notify=notify)

    def display(self, path: Path) -> str:
        return display_path(path, self.cwd)

    def registry(self) -> Registry:
        return Registry(self.home, self.database)

    def keys_dir(self, keys: Path | None = None) -> Path:
        """The signing identity folder: ``keys`` if given, else ``<home>/keys``."""
        return keys if keys is not None else self.home / "keys"

    def passphrase(self, passphrase_file: Path | None = None) -> str | None:
        """The keys' passphrase: from ``passphrase_file``, else $AUDIT_KEY_PASSPHRASE, else None."""
        if passphrase_file is None:
            return self.environ.get("AUDIT_KEY_PASSPHRASE") or None
        try:
            return passphrase_file.read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise InputError(
                f"cannot read passphrase file {passphrase_file}: {exc.strerror}"
            ) from None

    @property
    def access(self) -> AccessContext:
        """The access context, opened on first use.

        A completely fresh home (no rbac.yaml, no access log) is bootstrapped: the OS account
        running the first command is bound as admin, that is logged, and ``notify`` is told.
        The trust configuration (:mod:`audit.pipeline.trust`) is created with it; tokens are
        then checked against its token keys only, and checkpoints signed by its log key.
        """
        if self._access is None:
            from .trust import ensure_trust, log_key

            home = self.home
            fresh = not (home / "rbac.yaml").exists() and not (home / "access.db").exists()
            home.mkdir(parents=True, exist_ok=True)
            ctx = self._open(log_key(home))
            if fresh:
                bootstrap_rbac(home, ctx.log, ctx.os_actor)
                ctx = self._open(None)
                self.notify(
                    f"first use of {self.display(home)}: bound OS account {ctx.os_actor.user!r} "
                    f"as admin in {self.display(home / 'rbac.yaml')} (edit it to grant others roles)"
                )
            try:
                trust = ensure_trust(home, ctx.log, ctx.os_actor, ctx.rbac.sha256)
            except IntegrityError as exc:
                # a damaged trust configuration: nothing is trusted, every command that needs a
                # key fails (``trust()`` raises), but ``audit log verify`` can still say where
                if ctx.token is not None:
                    raise
                self._trust_error = exc
                self._access = ctx
                return ctx
            ctx.log.signing_key = log_key(home)
            ctx = replace(ctx, trusted_keys=trust.keyring.public("token"))
            self._access = ctx
        return self._access

    def close(self) -> None:
        """Close the access log, if it was opened (a service closes each request's session)."""
        if self._access is not None:
            self._access.log.close()

    def trust(self) -> TrustDocument:
        """The home's verified trust configuration (IntegrityError if it was tampered with)."""
        from .trust import load_trust

        log = self.access.log
        if self._trust_error is not None:
            raise self._trust_error
        found = load_trust(self.home, log)
        assert found is not None  # created by ``access``
        return found

    def _open(self, signing_key: Any) -> AccessContext:
        return open_access(
            self.home,
            token=self.environ.get("AUDIT_TOKEN") or None,
            signing_key=signing_key,
            environ=self.environ,
            actor=self.actor,
            database=self.database,
        )

    def guard(self, command: str, resource: str = "") -> Actor:
        """Check permission for CLI ``command`` on ``resource`` and log the decision; the actor."""
        self.decisions += 1
        return authorize(self.access, COMMAND_ACTIONS[command], resource)

    def log_keys(self) -> dict[str, Any]:
        """The keys that may sign access-log checkpoints: the trust configuration's log keys."""
        return self.trust().keyring.public("log")

    def log_unsafe_load(self, actor: Actor, model_info: Any) -> None:
        """Record that a pickle-based model (the report's subject.model) was loaded on the
        user's explicit opt-in."""
        ctx = self.access
        ctx.log.append(
            actor=actor,
            action="audit:run",
            resource=f"model:{model_info.name}@{model_info.version}",
            decision="allow",
            reason=f"UNSAFE: pickle/joblib model loaded on --allow-pickle for pinned sha256 "
            f"{model_info.sha256}",
            rbac_sha256=ctx.rbac.sha256,
        )
