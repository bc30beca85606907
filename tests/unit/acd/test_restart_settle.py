"""Callers a stopped process left in a queue who hung up before the next one came: settled.

The row must not stay forever (it would hold a place and a position number), and the queue
log must say what happened: an abandon while waiting, a completed call while connected.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ivr.services.acd.restart import forget_gone
from ivr.services.acd.store import EntryRow, EntryState

from .fakes import T0, rig

QUEUES = """
agents:
  a1: {name: A One, endpoint: PJSIP/a1}
queues:
  q: {strategy: longest_idle, members: [a1]}
"""


def entry(channel_id: str, **fields: object) -> EntryRow:
    base = dict(channel_id=channel_id, queue="q", priority=0,
                entered_at=dt.datetime.fromtimestamp(T0 - 40, dt.UTC), seq=0, caller="0101",
                language="ko", flow="bank", node="agent", variables={}, orig_position=2)
    return EntryRow(**{**base, **fields})  # type: ignore[arg-type]


async def test_gone_callers_are_settled_and_present_ones_kept(tmp_path: Path) -> None:
    async with rig(tmp_path, QUEUES) as r:
        waiting = await r.store.add_entry(entry("gone-waiting"))
        talking = await r.store.add_entry(entry("gone-talking"))
        talking.state, talking.agent_id = EntryState.CONNECTED, "a1"
        talking.connected_at = dt.datetime.fromtimestamp(T0 - 30, dt.UTC)
        await r.store.update_entry(talking)
        present = await r.store.add_entry(entry("still-here"))
        r.rest.gone |= {"gone-waiting", "gone-talking"}

        await forget_gone(r.acd, [waiting, talking, present])

        assert [e.channel_id for e in await r.store.entries()] == ["still-here"]
        assert await r.lines("ABANDON", "COMPLETECALLER") == [
            "gone-waiting|q|NONE|ABANDON|2|2|40",
            "gone-talking|q|PJSIP/a1|COMPLETECALLER|10|30|2",
        ]


async def test_an_unanswered_lookup_keeps_the_row(tmp_path: Path) -> None:
    """Asterisk not answering is no proof the caller left: the row stays for the next check."""
    async with rig(tmp_path, QUEUES) as r:
        row = await r.store.add_entry(entry("unknown"))
        r.rest.fail("GET", "/channels/unknown", 503)
        await forget_gone(r.acd, [row])
        assert [e.channel_id for e in await r.store.entries()] == ["unknown"]
        assert await r.lines("ABANDON") == []
