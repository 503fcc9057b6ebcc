"""Who is acting: the OS account of the process's real user id, or a signed token's subject.

``$USER`` and ``$LOGNAME`` are never consulted: anyone can set them. The OS account and its groups
come from the kernel's credentials of this process (``getuid``, ``getgid``, ``getgroups``) looked
up in the password and group databases. A token actor (see :mod:`audit.access.tokens`) acts under
a named service identity, in a namespace of its own, so that a service ``ci`` and an OS user
``ci`` are different subjects.
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ActorSource = Literal["os", "sudo", "token", "oidc", "anonymous"]

#: How each kind of actor is named in messages and approvals (``service:ci-bot``, ``oidc:ann``).
LABEL_PREFIX: dict[str, str] = {"token": "service:", "oidc": "oidc:"}


@dataclass(frozen=True)
class Actor:
    """A subject that asks to do something.

    ``user`` is the OS account name (``source="os"``; ``"sudo"`` when a configured service account
    runs on behalf of the account that invoked sudo) or the token's service name
    (``source="token"``); ``uid`` is the OS account's user id. ``groups`` are the
    OS groups of the process (empty for a token actor: a service identity is granted roles by
    its own bindings only). ``roles`` is the role list a token was narrowed to (``None``: not
    narrowed), ``token_id`` the token's ``jti``.
    """

    user: str
    uid: int
    source: ActorSource = "os"
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] | None = None
    token_id: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The actor as written into reports (``user``, ``uid``, ``source``)."""
        return {"user": self.user, "uid": self.uid, "source": self.source}

    @property
    def label(self) -> str:
        """``alice`` for an OS user, ``service:ci-bot`` for a token actor, ``oidc:ann@example.org``
        for an OpenID Connect subject (for messages and approvals)."""
        return LABEL_PREFIX.get(self.source, "") + self.user


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid:{gid}"


def current_actor(
    *, service_account: str | None = None, environ: Mapping[str, str] | None = None
) -> Actor:
    """The OS account of the process's real user id, with its groups (never ``$USER``).

    When ``audit`` runs under a dedicated ``service_account`` through sudo (so that users cannot
    touch the log files), the process's account is that service; the actor is then the account
    that invoked sudo, read from ``SUDO_UID`` in ``environ``. That variable is trusted only in
    this case: sudo sets it itself, and only sudo (or whoever already owns the service account
    and so the log) can start a process as that account.
    """
    uid = os.getuid()
    name = _user_name(uid)
    if service_account and name == service_account and environ and "SUDO_UID" in environ:
        try:
            invoker = pwd.getpwuid(int(environ["SUDO_UID"]))
        except (KeyError, ValueError):
            return Actor(user=name, uid=uid, groups=_groups(sorted({os.getgid(), *os.getgroups()})))
        gids = sorted(set(os.getgrouplist(invoker.pw_name, invoker.pw_gid)))
        return Actor(user=invoker.pw_name, uid=invoker.pw_uid, source="sudo", groups=_groups(gids))
    return Actor(user=name, uid=uid, groups=_groups(sorted({os.getgid(), *os.getgroups()})))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def _groups(gids: list[int]) -> tuple[str, ...]:
    return tuple(_group_name(g) for g in gids)
