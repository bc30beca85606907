"""Asterisk's queue_log line format, so existing queue reporting tools can read our ACD's log.

A line is `epoch|callid|queuename|agent|event|data1|data2|...`, for example
`1366720340|1366720340.303267|MYQUEUE|SIP/8007|RINGNOANSWER|1000`. Asterisk always writes
the data part, so an event without data ends in a bare `|`; we do the same, and read lines
with or without it. Fields hold no `|` or newline: formatting replaces them with spaces, since
one stray character would shift every field after it.

The verbs we write and their data fields, as Asterisk documents them:

================  ===================================================
ENTERQUEUE        url|callerid
CONNECT           holdtime|bridgedchanneluniqueid|ringtime
COMPLETECALLER    holdtime|calltime|origposition
COMPLETEAGENT     holdtime|calltime|origposition
ABANDON           position|origposition|waittime
EXITWITHTIMEOUT   position|origposition|waittime
EXITEMPTY         position|origposition|waittime
EXITWITHKEY       key|position|origposition|waittime
FULL              (no data)
JOINEMPTY         (no data)
RINGNOANSWER      ringtime (milliseconds)
RINGCANCELED      ringtime (milliseconds)
TRANSFER          extension|context|holdtime|calltime|origposition
ADDMEMBER         (no data)
REMOVEMEMBER      (no data)
PAUSE             reason
UNPAUSE           reason
ACW               seconds of after-call work (ours, not Asterisk's)
OUTBOUND          campaign|result|seconds|amd status|reasons (ours)
================  ===================================================

Times without a unit are whole seconds. ACW is written with the call's uniqueid, queue and
agent when wrap-up ends; reporting tools skip verbs they do not know, so it costs them nothing.
OUTBOUND is one line per attempt of a campaign (services/outbound), in the campaign's queue:
its call id is the attempt's channel (the contact's id when the gate refused the dial, the
result then dnc, outside_window or blocked and the gate's reasons given), its agent the one it
was put through to, its seconds from the dial to the hangup. A human put through also has the
queue's usual lines (ENTERQUEUE, CONNECT, COMPLETE...) under the same call id.
Member events (ADDMEMBER ... UNPAUSE) have call id "NONE" and are written once per queue the
agent serves; a PAUSE or UNPAUSE with queue "NONE" means all the agent's queues.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NONE = "NONE"

ENTERQUEUE = "ENTERQUEUE"
CONNECT = "CONNECT"
COMPLETECALLER = "COMPLETECALLER"
COMPLETEAGENT = "COMPLETEAGENT"
ABANDON = "ABANDON"
EXITWITHTIMEOUT = "EXITWITHTIMEOUT"
EXITEMPTY = "EXITEMPTY"
EXITWITHKEY = "EXITWITHKEY"
FULL = "FULL"
JOINEMPTY = "JOINEMPTY"
RINGNOANSWER = "RINGNOANSWER"
RINGCANCELED = "RINGCANCELED"
TRANSFER = "TRANSFER"
ADDMEMBER = "ADDMEMBER"
REMOVEMEMBER = "REMOVEMEMBER"
PAUSE = "PAUSE"
UNPAUSE = "UNPAUSE"
ACW = "ACW"
OUTBOUND = "OUTBOUND"

_FIXED_FIELDS = 5


@dataclass(frozen=True, slots=True)
class QueueLogEvent:
    time: float
    """Epoch seconds; written as a whole number like Asterisk does (the fraction is dropped)."""
    call_id: str
    """The caller channel's uniqueid; "NONE" for member events."""
    queue: str
    """The queue's name, or "NONE" when the event is not tied to one queue."""
    agent: str
    """Member interface such as "PJSIP/agent1001"; "NONE" when no agent is involved."""
    event: str
    data: tuple[str, ...] = ()


def _s(seconds: float) -> str:
    return str(round(seconds))


def enter_queue(time: float, call_id: str, queue: str, caller: str) -> QueueLogEvent:
    return QueueLogEvent(time, call_id, queue, NONE, ENTERQUEUE, ("", caller))


def connect(
    time: float, call_id: str, queue: str, agent: str, holdtime: float, agent_call_id: str,
    ringtime: float,
) -> QueueLogEvent:
    return QueueLogEvent(
        time, call_id, queue, agent, CONNECT, (_s(holdtime), agent_call_id, _s(ringtime))
    )


def complete(
    time: float, call_id: str, queue: str, agent: str, holdtime: float, calltime: float,
    origposition: int, *, by_caller: bool,
) -> QueueLogEvent:
    """COMPLETECALLER when the caller hung up first, COMPLETEAGENT when the agent did."""
    verb = COMPLETECALLER if by_caller else COMPLETEAGENT
    return QueueLogEvent(
        time, call_id, queue, agent, verb, (_s(holdtime), _s(calltime), str(origposition))
    )


def left_queue(
    time: float, call_id: str, queue: str, verb: str, position: int, origposition: int,
    waittime: float,
) -> QueueLogEvent:
    """ABANDON, EXITWITHTIMEOUT or EXITEMPTY: the caller left without being answered."""
    if verb not in (ABANDON, EXITWITHTIMEOUT, EXITEMPTY):
        raise ValueError(f"{verb} is not a leave-the-queue verb")
    return QueueLogEvent(
        time, call_id, queue, NONE, verb, (str(position), str(origposition), _s(waittime))
    )


def exit_with_key(
    time: float, call_id: str, queue: str, key: str, position: int, origposition: int,
    waittime: float,
) -> QueueLogEvent:
    data = (key, str(position), str(origposition), _s(waittime))
    return QueueLogEvent(time, call_id, queue, NONE, EXITWITHKEY, data)


def ring_no_answer(
    time: float, call_id: str, queue: str, agent: str, ringtime_s: float, *, canceled: bool = False
) -> QueueLogEvent:
    """RINGNOANSWER, or RINGCANCELED when the ringing stopped for another reason."""
    verb = RINGCANCELED if canceled else RINGNOANSWER
    return QueueLogEvent(time, call_id, queue, agent, verb, (str(round(ringtime_s * 1000)),))


def transfer(
    time: float, call_id: str, queue: str, agent: str, extension: str, context: str,
    holdtime: float, calltime: float, origposition: int,
) -> QueueLogEvent:
    data = (extension, context, _s(holdtime), _s(calltime), str(origposition))
    return QueueLogEvent(time, call_id, queue, agent, TRANSFER, data)


def member_event(
    time: float, queue: str, agent: str, verb: str, reason: str = ""
) -> QueueLogEvent:
    """ADDMEMBER, REMOVEMEMBER, PAUSE or UNPAUSE (only the pauses carry the reason)."""
    if verb not in (ADDMEMBER, REMOVEMEMBER, PAUSE, UNPAUSE):
        raise ValueError(f"{verb} is not a member verb")
    data = (reason,) if verb in (PAUSE, UNPAUSE) else ()
    return QueueLogEvent(time, NONE, queue, agent, verb, data)


def after_call_work(
    time: float, call_id: str, queue: str, agent: str, seconds: float
) -> QueueLogEvent:
    """Written when wrap-up ends, so `time - seconds` is when it began."""
    return QueueLogEvent(time, call_id, queue, agent, ACW, (_s(seconds),))


def _clean(field: str) -> str:
    return field.replace("|", " ").replace("\r", " ").replace("\n", " ")


def format_line(e: QueueLogEvent) -> str:
    """One queue_log line without its newline."""
    fields = [str(math.floor(e.time)), e.call_id, e.queue, e.agent, e.event]
    return "|".join(_clean(f) for f in fields) + "|" + "|".join(_clean(d) for d in e.data)


def parse_line(line: str) -> QueueLogEvent:
    """The event on one line; a lone empty data field (Asterisk's `EVENT|`) reads as no data."""
    fields = line.rstrip("\r\n").split("|")
    if len(fields) < _FIXED_FIELDS:
        raise ValueError(
            f"queue_log line has {len(fields)} fields, expected at least {_FIXED_FIELDS}: {line!r}"
        )
    try:
        time = float(fields[0])
    except ValueError:
        raise ValueError(f"queue_log time is not a number: {line!r}") from None
    if not math.isfinite(time):
        raise ValueError(f"queue_log time is not finite: {line!r}")
    data = tuple(fields[_FIXED_FIELDS:])
    if data == ("",):
        data = ()
    return QueueLogEvent(time, fields[1], fields[2], fields[3], fields[4], data)


def parse_lines(text: str) -> list[QueueLogEvent]:
    """Every event in a queue_log text, blank lines skipped; errors name the line number."""
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(parse_line(line))
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from None
    return events


class QueueLogFile:
    """An append-only queue_log file. Blocking: the app calls append via asyncio.to_thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, events: Sequence[QueueLogEvent]) -> None:
        """Write the events in one go, so lines from concurrent callers never interleave."""
        if not events:
            return
        text = "".join(format_line(e) + "\n" for e in events)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8", newline="\n") as f:
                f.write(text)
                f.flush()
