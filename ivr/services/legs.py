"""What services that dial legs of their own share (callbacks, outbound): waiting for a leg to
go, playing to it, racing a dial against a hangup, and letting go of legs and a bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from ..ari import (
    AriError,
    BridgeHandle,
    ChannelDestroyed,
    ChannelHandle,
    ChannelHangupRequest,
    StasisEnd,
)

__all__ = ["gone", "play", "race", "release"]


async def gone(channel: ChannelHandle) -> None:
    """Returns when the channel hangs up or leaves the application."""
    assert channel.events is not None
    async for event in channel.events:
        if isinstance(event, ChannelHangupRequest | StasisEnd | ChannelDestroyed):
            return


async def play(channel: ChannelHandle, media: list[str]) -> None:
    """Play `media` to the channel and wait until it has played."""
    if not media:
        return
    playback = await channel.play(media)
    try:
        await playback.finished()
    finally:
        if playback.events is not None:
            playback.events.close()


async def race(work: asyncio.Task[object], *stops: asyncio.Task[None]) -> bool:
    """True if `work` finished first; else it is cancelled (a hangup came first, or this race
    was cancelled: a dial left running would ring the customer for nobody)."""
    try:
        done, _ = await asyncio.wait({work, *stops}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        raise
    if work in done:
        return True
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    return False


async def release(legs: Iterable[ChannelHandle | None], bridge: BridgeHandle | None = None, *,
                  keep: ChannelHandle | None = None) -> None:
    """Hang up the legs (but `keep`, handed on elsewhere) and destroy the bridge; their
    subscriptions closed. Gone ones are fine."""
    for leg in legs:
        if leg is None:
            continue
        if leg is not keep:
            with contextlib.suppress(AriError):
                await leg.hangup()
        if leg.events is not None:
            leg.events.close()
    if bridge is not None:
        with contextlib.suppress(AriError):
            await bridge.destroy()
        if bridge.events is not None:
            bridge.events.close()
