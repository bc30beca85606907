"""Agents as the ACD sees them: who is logged in, free, ringing, talking, wrapping up or paused.

The state machine is small and explicit so the dispatcher never has to guess:

    logged_out -login-> available -offer-> ringing -answer-> on_call -hangup-> wrap_up -timer->
    available; ringing -no answer-> available (or paused after N misses in a row); any logged-in
    state -pause-> paused -unpause-> available; any -logout-> logged_out.

A pause or logout asked for while the agent rings or talks takes effect when that call ends
(a supervisor cannot cut a live conversation by pausing an agent).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import TypedDict

from .config import AgentConfig
from .store import AgentRow


class AgentState(enum.Enum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


BUSY = frozenset({AgentState.RINGING, AgentState.ON_CALL})
LOGGED_IN = frozenset(AgentState) - {AgentState.LOGGED_OUT}


class AgentView(TypedDict):
    """An agent as the REST API shows it, and (with its type) as an agent_state desktop
    event sends it (desktop.AgentStateEvent)."""

    id: str
    name: str
    endpoint: str
    state: str
    pause_reason: str | None
    in_state_s: float
    calls_taken: int
    missed_in_row: int
    pending: str | None
    call: str | None
    """The caller's channel while ringing or on a call."""
    skills: dict[str, int]


def utc(epoch: float) -> dt.datetime:
    """An epoch time (the ACD's clock) as the aware datetime the store keeps."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _epoch(when: dt.datetime | None) -> float | None:
    return None if when is None else when.timestamp()


@dataclass
class Agent:
    config: AgentConfig
    state: AgentState = AgentState.LOGGED_OUT
    pause_reason: str = ""
    state_since: float = 0.0
    logged_in_at: float | None = None
    idle_since: float = 0.0
    """When the agent last became free (login, unpause, end of wrap-up): longest-idle order."""
    calls_taken: int = 0
    missed_in_row: int = 0
    pending: str = ""
    """'pause:<reason>' or 'logout' asked for during a call; applied when it ends."""
    call_id: str = ""
    """The caller's channel while ringing or on a call."""
    wrapup_of: tuple[str, str] | None = None
    """(queue, caller channel) of the call whose after-call work is running."""

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def interface(self) -> str:
        """The queue_log agent field, as app_queue writes a member's interface."""
        return self.config.endpoint

    @property
    def logged_in(self) -> bool:
        return self.state in LOGGED_IN

    @property
    def staffed(self) -> bool:
        """Logged in and not paused: counted as able to take calls (soon, if busy now)."""
        return self.state in LOGGED_IN and self.state is not AgentState.PAUSED

    def set(self, state: AgentState, now: float) -> None:
        self.state = state
        self.state_since = now

    def row(self) -> AgentRow:
        return AgentRow(
            agent_id=self.id, state=self.state.value, pause_reason=self.pause_reason,
            state_since=utc(self.state_since),
            logged_in_at=None if self.logged_in_at is None else utc(self.logged_in_at),
            idle_since=utc(self.idle_since), calls_taken=self.calls_taken,
            missed_in_row=self.missed_in_row)

    @classmethod
    def from_row(cls, config: AgentConfig, row: AgentRow) -> Agent:
        return cls(config=config, state=AgentState(row.state), pause_reason=row.pause_reason,
                   state_since=row.state_since.timestamp(), logged_in_at=_epoch(row.logged_in_at),
                   idle_since=_epoch(row.idle_since) or row.state_since.timestamp(),
                   calls_taken=row.calls_taken, missed_in_row=row.missed_in_row)

    def view(self, now: float) -> AgentView:
        return {"id": self.id, "name": self.config.name, "endpoint": self.config.endpoint,
                "state": self.state.value, "pause_reason": self.pause_reason or None,
                "in_state_s": round(max(0.0, now - self.state_since), 1),
                "calls_taken": self.calls_taken, "missed_in_row": self.missed_in_row,
                "pending": self.pending or None, "call": self.call_id or None,
                "skills": dict(self.config.skills)}
