"""Callers a stopped process left in a queue who hung up before the next process came.

Their rows must not stay forever (each would hold a place and a position number), and the
queue log must say what happened to them. Those still there need nothing: their StasisStart
brings them back into their wait (app/service.py), and a bridged call is adopted
(session.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...ari import AriError, ResourceGone
from . import queue_log as ql
from .store import EntryRow, EntryState

if TYPE_CHECKING:
    from .engine import Acd

log = logging.getLogger(__name__)

__all__ = ["forget_gone"]


async def forget_gone(acd: Acd, rows: Sequence[EntryRow]) -> None:
    """Entries a previous process left whose callers hung up while no process ran: an
    abandon (or a completed call) in the log, and no row left behind. A channel Asterisk
    does not answer about is no proof the caller left: its row stays."""
    for row in rows:
        try:
            await acd.client.channels.handle(row.channel_id).get()
            continue  # still there: its StasisStart will resume it
        except ResourceGone:
            pass
        except AriError:
            continue
        waited = round(acd.clock() - row.entered_at.timestamp())
        if row.state is EntryState.CONNECTED and row.agent_id in acd.agents:
            agent = acd.agents[row.agent_id]
            hold = round((row.connected_at or row.entered_at).timestamp()
                         - row.entered_at.timestamp())
            talk = waited - hold
            await acd.log(acd.event(row.channel_id, row.queue, agent.interface,
                                    ql.COMPLETECALLER, hold, talk, row.orig_position))
        else:
            await acd.log(acd.event(row.channel_id, row.queue, "NONE", ql.ABANDON,
                                    row.orig_position, row.orig_position, waited))
        await acd.store.remove_entry(row.channel_id)
        log.info("caller %s left queue %s while the app was down", row.channel_id, row.queue)
