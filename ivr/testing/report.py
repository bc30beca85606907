"""What a softphone run reports: a timeline of call events and a summary, as JSON.

Pure Python so the parent (pytest) can parse a report written by a softphone subprocess without
loading pjsua2. Event times are monotonic seconds relative to the dial (or, for an answering
phone, to the moment it started listening), so assertions like "prompt heard within 1 s of
answer" do not depend on wall clocks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Exit codes of `ivr call` / `python -m ivr.testing.call_cli`.
EXIT_OK = 0
EXIT_SCRIPT_FAILED = 1  # connected, but a step failed (e.g. wait-hangup timed out)
EXIT_USAGE = 2  # bad arguments or script (argparse uses 2 as well)
EXIT_NOT_CONNECTED = 3  # rejected (404, 486...), no answer in time, no incoming call
EXIT_INTERNAL = 4  # the SIP stack failed to start, crashed, or no report was written

EventValue = str | int | float

# Event types, in the order they usually happen.
EVENT_TYPES = (
    "listening",  # answering phone ready (uri)
    "registered",  # REGISTER answered (code)
    "calling",  # INVITE sent (uri)
    "incoming",  # INVITE received (from)
    "early",  # 18x received/sent (code)
    "confirmed",  # 200 OK / ACK: the call is up
    "media-active",  # RTP flowing; recording starts here
    "dtmf-sent",  # digit
    "dtmf-received",  # digit
    "play-started",  # file
    "play-finished",  # file
    "hangup-sent",  # we asked to hang up
    "disconnected",  # code, reason, by (local|remote)
    "error",  # message
)


@dataclass
class Event:
    """One timestamped thing that happened; ``data`` holds the type-specific fields."""

    t: float
    type: str
    data: dict[str, EventValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 4), "type": self.type, **self.data}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Event:
        data = {k: v for k, v in obj.items() if k not in ("t", "type")}
        return cls(t=float(obj["t"]), type=str(obj["type"]), data=data)


@dataclass
class CallReport:
    """The outcome of one softphone run, as written to ``--report`` and parsed back by tests."""

    role: str = "caller"  # caller | callee
    target: str | None = None
    local_uri: str = ""
    caller_id: str = ""
    sip_call_id: str | None = None
    local_sip_port: int | None = None
    ok: bool = False
    connected: bool = False
    error: str | None = None
    exit_code: int = EXIT_INTERNAL
    status_code: int | None = None
    reason: str | None = None
    hangup_by: str | None = None  # local | remote
    setup_s: float | None = None  # engine start -> dial (or -> listening)
    connect_s: float | None = None  # dial -> confirmed
    duration_s: float | None = None  # dial -> disconnected
    talk_s: float | None = None  # confirmed -> disconnected
    dtmf_sent: str = ""
    dtmf_received: str = ""
    recording: str | None = None
    recording_s: float | None = None
    t0_monotonic: float | None = None  # time.monotonic() at dial/listen (system-wide clock)
    startup_s: float | None = None  # set by the parent: subprocess spawn -> dial/listen
    process_s: float | None = None  # set by the parent: subprocess spawn -> exit
    events: list[Event] = field(default_factory=list)

    def event(self, type_: str) -> Event | None:
        """The first event of a type, or None (``report.event("confirmed").t``)."""
        return next((e for e in self.events if e.type == type_), None)

    def events_of(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "events":
                value = [e.to_json() for e in self.events]
            elif isinstance(value, float):
                value = round(value, 4)
            out[name] = value
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CallReport:
        known = {k: v for k, v in obj.items() if k in cls.__dataclass_fields__ and k != "events"}
        report = cls(**known)
        report.events = [Event.from_json(e) for e in obj.get("events", [])]
        return report

    @classmethod
    def loads(cls, text: str) -> CallReport:
        return cls.from_json(json.loads(text))

    def write(self, path: Path) -> None:
        """Write atomically so a parent polling the file never reads half a report."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.dumps() + "\n")
        tmp.replace(path)

    def summary(self) -> str:
        """A few human lines for testers running ``ivr call`` by hand."""
        lines = []
        for e in self.events:
            extra = " ".join(f"{k}={v}" for k, v in e.data.items())
            lines.append(f"{e.t:8.3f}s  {e.type:<14} {extra}".rstrip())
        state = "OK" if self.ok else f"FAILED (exit {self.exit_code}): {self.error}"
        lines.append(f"result: {state}")
        if self.recording:
            lines.append(f"recording: {self.recording} ({self.recording_s or 0:.2f} s)")
        return "\n".join(lines)
