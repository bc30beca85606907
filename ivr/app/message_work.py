"""Voicemail as work for the queues: a message left at a node with `queue:` becomes a callback
of that queue, and the agent who takes it hears the message before the customer is dialled.

Glue between two services that do not know each other (voicemail stores messages, callback
keeps promises), so it lives with the wiring.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from ..services.callback.service import CallbackRefused, Callbacks
from ..services.voicemail.playback import PlaybackUnavailable, RecordingCopies
from ..services.voicemail.store import Message, MessageStore

log = logging.getLogger(__name__)


async def route_message(callbacks: Callbacks, message: Message) -> None:
    """Book the call back; a message whose caller cannot be called stays in its mailbox."""
    try:
        cb = await callbacks.request(message.queue, message.caller, caller=message.caller,
                                     language=message.language, source="voicemail",
                                     message_id=message.id)
    except CallbackRefused as exc:
        log.warning("message %s not routed to queue %s: %s (it stays in mailbox %s)",
                    message.id, message.queue, exc, message.mailbox)
        return
    log.info("message %s routed to queue %s as callback %s", message.id, message.queue, cb.id)


@contextlib.asynccontextmanager
async def message_media(messages: MessageStore, copies: RecordingCopies,
                        message_id: str) -> AsyncIterator[str | None]:
    """`recording:<copy>` while the block runs, or None (deleted meanwhile, no folder)."""
    message = await messages.get(message_id)
    if message is None:
        yield None
        return
    staged = copies.staged(messages.path(message))
    try:
        name = await staged.__aenter__()
    except PlaybackUnavailable as exc:
        log.warning("cannot play message %s to the agent: %s", message_id, exc)
        yield None
        return
    try:
        yield f"recording:{name}"
    finally:
        await staged.__aexit__(None, None, None)
