"""Voicemail as a hand-off service: a flow's `voicemail` node, through the call seam."""

from __future__ import annotations

from ...flow.types import DECLINED, TAKEN, HandoffKind, HandoffRequest, HandoffResult
from ..seam import CallerLeg
from .session import SENT, Voicemail, VoicemailRequest, leave_message


class VoicemailHandoff:
    """Greeting, beep, recording, review; then "sent" and goodbye. A take that could not be
    recorded gives the caller back to the flow (the node's `next`)."""

    kind = HandoffKind.VOICEMAIL

    def __init__(self, voicemail: Voicemail) -> None:
        self.voicemail = voicemail

    async def take(self, leg: CallerLeg, request: HandoffRequest) -> HandoffResult:
        options = request.options
        message = VoicemailRequest(
            mailbox=request.target,
            max_length=int(request.number("max_length") or 120),
            max_silence=int(request.number("max_silence") or 5),
            review=options.get("review", "true") != "false", queue=options.get("queue", ""))
        if await leave_message(self.voicemail, leg, message) != SENT:
            return DECLINED
        await leg.play(["vm-sent"], barge_in=False)
        await leg.hangup()
        return TAKEN

    def call_ended(self, call_id: str) -> None:
        """Nothing is kept per call: a take in progress belongs to its keeper."""
