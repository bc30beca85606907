"""Listening to a caller during a node that accepts speech (see CallIO.listening).

`Ears` is what a Call needs: start the caller's audio and a recognizer turn for the node's
grammar, report speech onset (barge-in) and what was understood, as keys, and release
everything when the node is done. The concrete one joins the media stream, the voice
activity detector and the engines (ivr/media); a Call without ears takes keys only.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from ..ari import ChannelHandle
from ..flow.types import Listen

Heard = Callable[..., None]
"""heard(keys, **trace_fields): what was understood, as the keys it stands for ('?' when
nothing matched well enough)."""


class Listener(Protocol):
    """The call, as ears see it."""

    id: str
    handle: ChannelHandle

    def speech_started(self) -> None: ...

    def trace(self, event: str, **fields: Any) -> None: ...


class Ears(Protocol):
    def listen(self, call: Listener, request: Listen,
               heard: Heard) -> AbstractAsyncContextManager[bool]:
        """Listen while the block runs; yields False if this language cannot be heard."""
