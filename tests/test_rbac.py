"""RBAC: deny by default, separate namespaces, explicit deny, who the actor is, and the rule that
every decision (allowed or denied) is logged before a command proceeds."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from audit.access import (
    ACTIONS,
    COMMAND_ACTIONS,
    AccessContext,
    AccessLog,
    Actor,
    Rbac,
    authorize,
    bootstrap_rbac,
    current_actor,
    default_rbac_path,
    init_rbac,
    rbac_path_for,
)
from audit.errors import AccessDenied, InputError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "policies" / "rbac.yaml"

RBAC = """\
version: 1
roles:
  viewer:
    allow: [report:read]
  engineer:
    inherits: [viewer]
    allow: [audit:run, "registry:*"]
  lead:
    inherits: [engineer]
    deny: [registry:write]
  superuser:
    allow: ["*"]
    deny: [report:approve]
bindings:
  users:
    alice: [engineer]
    carol: [lead]
    root-like: [superuser]
  groups:
    auditors: [viewer]
  services:
    ci-bot: [engineer]
"""


def write(tmp_path: Path, text: str, name: str = "rbac.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def rbac(tmp_path: Path) -> Rbac:
    return Rbac.load(write(tmp_path, RBAC))


@pytest.fixture
def log(tmp_path: Path):
    with AccessLog(tmp_path / "access.db") as log:
        yield log


def user(name: str, *groups: str) -> Actor:
    return Actor(user=name, uid=4242, groups=groups)


@pytest.mark.parametrize(
    ("actor", "action", "allowed"),
    [
        (user("alice"), "audit:run", True),
        (user("alice"), "registry:write", True),  # via "registry:*"
        (user("alice"), "report:read", True),  # inherited from viewer
        (user("alice"), "report:approve", False),  # nobody grants it
        (user("carol"), "report:read", True),  # inherited twice
        (user("carol"), "registry:write", False),  # own deny beats inherited allow
        (user("carol"), "registry:read", True),
        (user("root-like"), "keys:manage", True),  # "*"
        (user("root-like"), "report:approve", False),  # deny beats "*"
        (user("dave", "auditors"), "report:read", True),  # group binding
        (user("dave", "auditors"), "audit:run", False),
        (user("dave"), "report:read", False),  # unknown user
        (user("engineer"), "audit:run", False),  # a user named like a role gains nothing
        (user("ci-bot"), "audit:run", False),  # an OS user named like a service neither
        (user("auditors"), "report:read", False),  # nor one named like a group
        (Actor("alice", 4242, source="token", roles=("engineer",)), "audit:run", False),
        (Actor("ci-bot", 4242, source="token", roles=("engineer",)), "audit:run", True),
        (Actor("ci-bot", 4242, source="token", roles=("engineer",)), "keys:manage", False),
    ],
)
def test_decisions(rbac: Rbac, actor: Actor, action: str, allowed: bool) -> None:
    decision = rbac.decide(actor, action, "model:m@1")
    assert decision.allowed is allowed, decision.reason
    assert decision.action == action and decision.resource == "model:m@1"


def test_explicit_deny_in_a_parent_beats_an_allow_in_the_child(tmp_path: Path) -> None:
    rbac = Rbac.load(
        write(
            tmp_path,
            "version: 1\nroles:\n  base: {deny: [report:export]}\n"
            "  child: {inherits: [base], allow: [report:export]}\n"
            "bindings: {users: {u: [child]}}\n",
        )
    )
    d = rbac.decide(user("u"), "report:export")
    assert not d.allowed and "role 'base' denies 'report:export'" in d.reason


@pytest.mark.parametrize(
    ("actor", "action", "reason"),
    [
        (user("nobody"), "audit:run", "no role is bound to nobody"),
        (user("alice"), "audit:fly", "unknown action 'audit:fly'"),
        (user("alice"), "report:approve", "missing permission 'report:approve'"),
        (Actor("ci-bot", 1, source="token", roles=("wizard",)), "audit:run", "not defined"),
        (Actor("ci-bot", 1, source="token", roles=("lead",)), "audit:run", "not bound"),
    ],
    ids=["unknown user", "unknown action", "missing permission", "unknown role", "unbound role"],
)
def test_refusals_are_logged_and_exit_4_naming_the_permission(
    rbac: Rbac, log: AccessLog, actor: Actor, action: str, reason: str
) -> None:
    ctx = AccessContext(rbac, log, actor)
    with pytest.raises(AccessDenied) as err:
        authorize(ctx, action, "report:credit/v3")
    assert err.value.exit_code == 4
    assert f"'{action}'" in err.value.message and reason in err.value.message
    assert err.value.hint and action in err.value.hint
    (entry,) = list(log.entries())
    assert (entry.actor, entry.action, entry.resource) == (
        actor.user,
        action,
        "report:credit/v3",
    )
    assert entry.decision == "deny" and reason in entry.reason
    assert entry.actor_source == actor.source
    assert entry.rbac_sha256 == rbac.sha256


def test_allowed_decisions_are_logged_too(rbac: Rbac, log: AccessLog, tmp_path: Path) -> None:
    ctx = AccessContext(rbac, log, user("alice"))
    assert authorize(ctx, "audit:run", "model:credit@2") == user("alice")
    (entry,) = list(log.entries())
    assert (entry.decision, entry.action, entry.resource) == (
        "allow",
        "audit:run",
        "model:credit@2",
    )
    import hashlib

    assert rbac.sha256 == hashlib.sha256((tmp_path / "rbac.yaml").read_bytes()).hexdigest()


def test_user_and_logname_spoofing_changes_nothing(
    rbac: Rbac, log: AccessLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pwd.getpwuid(os.getuid()).pw_name
    assert real != "alice"
    before = current_actor()
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("LOGNAME", "alice")
    monkeypatch.setenv("USERNAME", "alice")
    after = current_actor()
    assert after == before and after.user == real and after.uid == os.getuid()
    with pytest.raises(AccessDenied):
        authorize(AccessContext(rbac, log, after), "audit:run")
    (entry,) = list(log.entries())
    assert entry.actor == real and entry.decision == "deny"
    # and in a fresh process whose whole environment says "alice"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from audit.access import current_actor; print(current_actor().user)",
        ],
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "USER": "alice",
            "LOGNAME": "alice",
            "HOME": "/nonexistent",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == real


def test_current_actor_groups_come_from_the_process_credentials() -> None:
    import grp

    expected = set()
    for gid in {os.getgid(), *os.getgroups()}:
        try:
            expected.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            expected.add(f"gid:{gid}")
    assert set(current_actor().groups) == expected


def test_sudo_uid_is_trusted_only_under_the_configured_service_account() -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    nobody = pwd.getpwnam("nobody")
    spoof = {"SUDO_UID": str(nobody.pw_uid), "USER": "nobody"}
    assert current_actor(environ=spoof).user == me  # no service account configured
    assert current_actor(service_account="audit-svc", environ=spoof).user == me  # not running as it
    via_sudo = current_actor(service_account=me, environ=spoof)  # running as the service account
    assert (via_sudo.user, via_sudo.uid, via_sudo.source) == ("nobody", nobody.pw_uid, "sudo")


def test_shipped_default_binds_nobody_and_denies_everything(log: AccessLog) -> None:
    assert default_rbac_path() == SHIPPED
    packaged = ROOT / "audit" / "access" / "rbac.default.yaml"
    assert packaged.read_bytes() == SHIPPED.read_bytes(), "keep the packaged copy identical"
    rbac = Rbac.load(SHIPPED)
    assert not any(rbac.spec.bindings.model_dump().values())
    me = current_actor()
    for action in ACTIONS:
        assert not rbac.decide(me, action).allowed


# Documented contract of the shipped roles (docs/access-control.md has the same table).
SHIPPED_ROLES = {
    "viewer": {"report:read", "registry:read", "policy:read"},
    "engineer": {
        "report:read",
        "registry:read",
        "policy:read",
        "registry:write",
        "audit:run",
        "audit:explain",
        "report:export",
        "report:verify",
    },
    "auditor": {
        "report:read",
        "registry:read",
        "policy:read",
        "report:verify",
        "report:export",
        "log:read",
        "log:verify",
    },
    "approver": {"report:read", "registry:read", "policy:read", "report:approve"},
    "ci": {
        "registry:read",
        "policy:read",
        "audit:run",
        "report:read",
        "report:export",
        "report:verify",
    },
    "admin": set(ACTIONS) - {"report:approve"},
}


@pytest.mark.parametrize("role", list(SHIPPED_ROLES))
def test_shipped_roles_grant_exactly_the_documented_actions(tmp_path: Path, role: str) -> None:
    text = SHIPPED.read_text().replace("  users: {}", f"  users:\n    someone: [{role}]")
    rbac = Rbac.load(write(tmp_path, text))
    granted = {a for a in ACTIONS if rbac.decide(user("someone"), a).allowed}
    assert granted == SHIPPED_ROLES[role]


def test_every_cli_command_maps_to_a_known_action() -> None:
    assert set(COMMAND_ACTIONS.values()) <= set(ACTIONS)
    assert set(ACTIONS) - set(COMMAND_ACTIONS.values()) == set(), "every action is used"


def test_rbac_init_binds_the_installing_user_as_admin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert rbac_path_for(home) == SHIPPED
    with AccessLog(home / "access.db") as log:
        me = Actor('o\'brien: the "admin"', 1000)
        rbac = bootstrap_rbac(home, log, me)
        assert rbac_path_for(home) == home / "rbac.yaml"
        assert rbac.decide(me, "keys:manage").allowed
        assert rbac.decide(me, "rbac:admin").allowed
        assert not rbac.decide(me, "report:approve").allowed  # separation of duties
        assert not rbac.decide(user("admin"), "keys:manage").allowed
        (entry,) = list(log.entries())
        assert entry.decision == "allow" and "bootstrap" in entry.reason
    with pytest.raises(InputError, match="refusing to overwrite"):
        init_rbac(home / "rbac.yaml", me)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RBAC.replace("[audit:run,", "[audit:runn,"),
            ["rbac.yaml:7:", "unknown action 'audit:runn'", "did you mean 'audit:run'"],
        ),
        (
            RBAC.replace("alice: [engineer]", "alice: [enginer]"),
            ["rbac.yaml:16:", "bindings.users.alice", "did you mean 'engineer'"],
        ),
        (RBAC.replace("inherits: [viewer]", "inherits: [lead]"), ["roles inherit in a loop"]),
        (
            RBAC.replace("  engineer:\n", "  engineer:\n    alow: [log:read]\n"),
            ["rbac.yaml:6:", "roles.engineer.alow", "unknown key"],
        ),
        (RBAC.replace("version: 1", "version: 2"), ["rbac.yaml:1:", "version"]),
        ("version: 1\nroles: [a, b]\n", ["roles", "dictionary"]),
        ("version: 1\nroles:\n  a: {allow: [x\n", ["invalid YAML"]),
    ],
    ids=["unknown action", "unknown role", "loop", "unknown key", "version", "type", "syntax"],
)
def test_invalid_rbac_files_name_the_file_line_and_field(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    with pytest.raises(InputError) as err:
        Rbac.load(write(tmp_path, text))
    for part in expected:
        assert part in err.value.message, err.value.message


def test_missing_rbac_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found") as err:
        Rbac.load(tmp_path / "nope.yaml")
    assert err.value.hint and "audit rbac init" in err.value.hint
