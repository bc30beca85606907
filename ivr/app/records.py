"""A finished call becomes a call record: what the KPIs (containment per flow and node) read."""

from __future__ import annotations

from ..flow.types import MASK
from ..services.records import CallRecord
from .call import Call


def outcome_of(call: Call) -> str:
    """The service that kept the call, or the places it went through (an agent answered, a
    message was recorded), else self_served when the flow marked it (variable
    `self_served`), else how it ended."""
    state = call.flow_state
    if call.taken_by is not None:
        return call.taken_by.value
    if call.reached_agent:
        return "queue"
    if call.left_message:
        return "voicemail"
    if state.outcome == "error":
        return "error"
    if state.variables.get("self_served") is True:
        return "self_served"
    if call.hangup_by == "caller":
        return "abandoned"
    return "completed"


def record_of(call: Call) -> CallRecord:
    trace = call.trace_log
    answered = trace.events("answered")
    ended = trace.events("end")
    keys = "".join("*" if e["digit"] == MASK else str(e["digit"])
                   for e in trace.events("dtmf"))
    return CallRecord(
        call_id=call.id,
        flow=call.flow.name,
        flow_version=call.flow.version,
        caller=call.channel.caller.number,
        language=call.language,
        started_at=trace.started_at,
        answered_at=trace.at(answered[0]) if answered else None,
        ended_at=trace.at(ended[-1]) if ended else None,
        path=list(call.flow_state.path),
        keys=keys,
        outcome=outcome_of(call),
        hangup_by=call.hangup_by or "caller",
        queues=list(dict.fromkeys(str(e["queue"]) for e in trace.events("place")
                                  if e.get("queue"))),
    )
