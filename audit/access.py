"""Who is acting. The actor is the OS account of the process's real user id.

``$USER`` and ``$LOGNAME`` are never consulted: anyone can set them.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user: str
    uid: int
    source: str = "os"

    def to_dict(self) -> dict[str, object]:
        return {"user": self.user, "uid": self.uid, "source": self.source}


def current_actor() -> Actor:
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid:{uid}"
    return Actor(user=name, uid=uid)
