"""A queue's holding bridge: where its callers on the line wait, with the queue's music.

One bridge per queue (`acd-hold-<queue>`), shared by all its callers: the first caller in
makes it and starts the music, the last one out takes it down. No session owns it, so joining
and leaving live here, each coping with a bridge another caller has just made or just
destroyed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from ...ari import AriClient, AriError, NotInStasis, ResourceGone
from .config import QueueConfig

log = logging.getLogger(__name__)

__all__ = ["holding_id", "join_holding", "leave_holding"]


def holding_id(queue: str) -> str:
    return f"acd-hold-{queue}"


async def join_holding(client: AriClient, queue: QueueConfig, channel_id: str) -> None:
    """Into the queue's holding bridge, made (with its music) by the first caller."""
    bridge_id = holding_id(queue.name)
    holding = client.bridges.handle(bridge_id)
    for _ in range(2):
        try:
            created = await client.bridges.create("holding", bridge_id=bridge_id,
                                                  name=f"queue {queue.name}")
            if created.events is not None:
                created.events.close()  # shared by the queue's callers; nobody reads it
            await holding.start_moh(queue.moh)
        except NotInStasis:
            pass  # 409: the queue's bridge exists already, its music playing
        except AriError as exc:
            log.warning("holding bridge %s: %s", bridge_id, exc)
        try:
            await holding.add(channel_id)
            return
        except ResourceGone:
            continue  # the last caller before us took the bridge down meanwhile
        except AriError:
            return  # already in it (a caller taken back after a restart)


async def leave_holding(client: AriClient, queue: QueueConfig, channel_id: str,
                        others_held: Callable[[], bool]) -> None:
    """Out of the holding bridge; the last caller out takes it down, music and all.
    `others_held` is asked once this channel is out (others may have come or gone
    meanwhile)."""
    holding = client.bridges.handle(holding_id(queue.name))
    with contextlib.suppress(AriError):
        await holding.remove(channel_id)
    if not others_held():
        with contextlib.suppress(AriError):
            await holding.destroy()
