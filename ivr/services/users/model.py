"""Who may use the console and the REST API: users, each with one role.

The roles are a contact center's: an `agent` acts on itself only (its state, its calls); a
`supervisor` sees and acts on the queues it supervises and their agents; `reporting` reads
figures and records but changes nothing; `admin` may do everything. A user is data (a row in
`users`); what each role may do on each route is the web layer's table (app/web_access.py).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["MIN_PASSWORD", "Role", "User", "UserError", "check_password", "check_user"]

MIN_PASSWORD = 10
"""Characters. Long enough that the login rate limit, not luck, decides a guessing attack."""

_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_AGENT = re.compile(r"[A-Za-z0-9._-]{1,64}")


class UserError(ValueError):
    """Bad user data: the message says which field and why (never a password)."""


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    REPORTING = "reporting"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    agent_id: str = ""
    """The ACD agent this user is (role agent): what it may act on."""
    queues: tuple[str, ...] = ()
    """The queues this user supervises (role supervisor)."""
    disabled: bool = False


def check_user(name: str, role: str, agent_id: str = "", queues: tuple[str, ...] = ()) -> Role:
    """The role, once the fields are consistent; UserError saying what is wrong otherwise."""
    if not _NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: 1-64 of a-z 0-9 . _ @ -, starting with a letter "
                        "or digit")
    try:
        parsed = Role(role)
    except ValueError:
        raise UserError(f"role {role!r}: one of {', '.join(r.value for r in Role)}") from None
    if parsed is Role.AGENT and not _AGENT.fullmatch(agent_id):
        raise UserError("an agent user needs its agent id (--agent, e.g. agent1001)")
    if parsed is not Role.AGENT and agent_id:
        raise UserError(f"only an agent user has an agent id, not a {parsed.value}")
    if parsed is not Role.SUPERVISOR and queues:
        raise UserError(f"only a supervisor has queues, not a {parsed.value}")
    for queue in queues:
        if not _AGENT.fullmatch(queue):
            raise UserError(f"queue name {queue!r} is not a queue name")
    return parsed


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise UserError("a password has at most 1024 characters")
