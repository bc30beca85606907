"""Voicemail's REST surface (ivr/app/web_voicemail.py) on a real MessageStore (SQLite).

A mailbox owner's tool lists messages (all, one mailbox's, heard or not), downloads the audio,
marks messages heard or unheard and deletes them; with voicemail not running every route
answers 503.
"""

from __future__ import annotations

import datetime as dt
import io
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.app.service import IvrService
from ivr.app.web_voicemail import add_routes
from ivr.services.db import Database, connect
from ivr.services.voicemail.store import Message, MessageStore

from .web_users import SUPERVISOR_OF_GENERAL, Acting

T0 = dt.datetime(2026, 11, 22, 10, 0, 0, tzinfo=dt.UTC)


def wav(seconds: float, level: int = 1, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(level.to_bytes(2, "little") * int(seconds * rate))
    return buf.getvalue()


@dataclass
class StandIn:
    """What web_voicemail reads of the service: its `messages`."""

    messages: MessageStore | None
    acd: None = None


@dataclass
class Env:
    client: TestClient[web.Request, web.Application]
    store: MessageStore
    db: Database
    service: StandIn
    m: list[Message]
    """sales: m[0] (oldest), m[1]; support: m[2] (newest)."""
    acting: Acting

    async def get(self, path: str, expect: int = 200, **kw: Any) -> Any:
        resp = await self.client.get(path, **kw)
        assert resp.status == expect, await resp.text()
        return await resp.json() if expect == 200 else await resp.text()

    async def post(self, path: str, expect: int = 200) -> Any:
        resp = await self.client.post(path)
        assert resp.status == expect, await resp.text()
        return await resp.json() if expect == 200 else await resp.text()

    async def ids(self, path: str, **params: str) -> list[str]:
        return [m["id"] for m in await self.get(path, params=params)]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = await connect(f"sqlite:///{tmp_path}/t.db")
    await db.migrate()
    store = MessageStore(db, tmp_path / "voicemail")
    messages = [
        await store.save("sales", wav(1.5, 1), caller="0101", language="ko", call_id="c1",
                         created_at=T0),
        await store.save("sales", wav(2.0, 2), caller="0102", language="en", call_id="c2",
                         queue="general", created_at=T0 + dt.timedelta(minutes=1)),
        await store.save("support", wav(3.0, 3), caller="0103", call_id="c3",
                         created_at=T0 + dt.timedelta(minutes=2)),
    ]
    service = StandIn(store)
    acting = Acting()
    app = web.Application(middlewares=[acting.middleware()])
    add_routes(app, cast(IvrService, service))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Env(client, store, db, service, messages, acting)
    finally:
        await client.close()
        await db.close()


async def test_list_all_newest_first(env: Env) -> None:
    found = await env.get("/messages")
    assert [m["id"] for m in found] == [env.m[2].id, env.m[1].id, env.m[0].id]
    assert found[1] == env.m[1].as_json()
    assert found[1] == {
        "id": env.m[1].id, "mailbox": "sales", "caller": "0102", "language": "en",
        "created_at": "2026-11-22T10:01:00+00:00", "duration_s": 2.0, "heard": False,
        "heard_at": None, "size_bytes": len(wav(2.0)), "call_id": "c2", "queue": "general"}
    assert "file" not in found[0]  # the path on disk is not the API's business


async def test_list_one_mailbox(env: Env) -> None:
    assert await env.ids("/mailboxes/sales/messages") == [env.m[1].id, env.m[0].id]
    assert await env.ids("/mailboxes/support/messages") == [env.m[2].id]
    assert await env.ids("/mailboxes/nobody/messages") == []


async def test_list_heard_or_unheard(env: Env) -> None:
    await env.store.mark_heard(env.m[0].id)
    assert await env.ids("/messages", heard="true") == [env.m[0].id]
    assert await env.ids("/messages", heard="false") == [env.m[2].id, env.m[1].id]
    assert await env.ids("/mailboxes/sales/messages", heard="false") == [env.m[1].id]
    assert await env.ids("/mailboxes/sales/messages", heard="1") == [env.m[0].id]
    assert await env.ids("/mailboxes/support/messages", heard="yes") == []


async def test_list_limit(env: Env) -> None:
    assert await env.ids("/messages", limit="2") == [env.m[2].id, env.m[1].id]
    assert await env.ids("/mailboxes/sales/messages", limit="1") == [env.m[1].id]
    assert await env.ids("/messages", limit="0") == []
    assert len(await env.ids("/messages", limit="5000")) == 3  # capped at 1000, not refused
    assert "invalid literal" in await env.get("/messages", 400, params={"limit": "many"})


async def test_get_one(env: Env) -> None:
    assert await env.get(f"/messages/{env.m[0].id}") == env.m[0].as_json()
    assert await env.get("/messages/nope", 404) == "no such message"


async def test_audio_download(env: Env) -> None:
    resp = await env.client.get(f"/messages/{env.m[1].id}/audio")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "audio/wav"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{env.m[1].id}.wav"'
    assert await resp.read() == wav(2.0, 2)
    assert await env.get("/messages/nope/audio", 404) == "no such message"


async def test_audio_404_when_the_file_vanished(env: Env) -> None:
    env.store.path(env.m[0]).unlink()
    assert await env.get(f"/messages/{env.m[0].id}/audio", 404) == (
        "the message's audio is missing")
    assert (await env.get(f"/messages/{env.m[0].id}"))["id"] == env.m[0].id  # the row stays


async def test_audio_of_a_row_naming_a_foreign_file_is_refused(env: Env) -> None:
    await env.db.execute("UPDATE voicemail_messages SET file = ? WHERE id = ?",
                         "../../etc/passwd", env.m[0].id)
    assert await env.get(f"/messages/{env.m[0].id}/audio", 500) == (
        "message file name is invalid")


async def test_mark_heard_and_unheard(env: Env) -> None:
    heard = await env.post(f"/messages/{env.m[0].id}/heard")
    assert heard["heard"] is True and heard["heard_at"] is not None
    assert dt.datetime.fromisoformat(heard["heard_at"]).tzinfo is not None
    # heard again keeps the first time
    assert (await env.post(f"/messages/{env.m[0].id}/heard"))["heard_at"] == heard["heard_at"]
    assert (await env.get(f"/messages/{env.m[0].id}"))["heard"] is True

    unheard = await env.post(f"/messages/{env.m[0].id}/unheard")
    assert (unheard["heard"], unheard["heard_at"]) == (False, None)
    assert (await env.get(f"/messages/{env.m[0].id}"))["heard"] is False

    assert await env.post("/messages/nope/heard", 404) == "no such message"
    assert await env.post("/messages/nope/unheard", 404) == "no such message"
    assert (await env.client.post(f"/messages/{env.m[0].id}/read")).status == 404


async def test_delete(env: Env) -> None:
    path = env.store.path(env.m[1])
    resp = await env.client.delete(f"/messages/{env.m[1].id}")
    assert resp.status == 204
    assert await resp.read() == b""
    assert not path.exists()
    assert await env.get(f"/messages/{env.m[1].id}", 404) == "no such message"
    assert await env.get(f"/messages/{env.m[1].id}/audio", 404) == "no such message"
    assert await env.ids("/messages") == [env.m[2].id, env.m[0].id]

    again = await env.client.delete(f"/messages/{env.m[1].id}")
    assert again.status == 404
    assert await again.text() == "no such message"


async def test_503_while_voicemail_is_not_running(env: Env) -> None:
    env.service.messages = None
    mid = env.m[0].id
    for method, path in [("GET", "/messages"), ("GET", "/mailboxes/sales/messages"),
                         ("GET", f"/messages/{mid}"), ("GET", f"/messages/{mid}/audio"),
                         ("POST", f"/messages/{mid}/heard"),
                         ("POST", f"/messages/{mid}/unheard"),
                         ("DELETE", f"/messages/{mid}")]:
        resp = await env.client.request(method, path)
        assert resp.status == 503, (method, path)
        assert await resp.text() == "voicemail is not running"


async def test_a_supervisor_reaches_the_messages_of_its_queues_only(env: Env) -> None:
    """m[1] was left from queue general; m[0] and m[2] from no queue (a flow's voicemail)."""
    env.acting.user = SUPERVISOR_OF_GENERAL
    assert await env.ids("/messages") == [env.m[1].id]
    assert await env.ids("/mailboxes/sales/messages") == [env.m[1].id]
    assert (await env.get(f"/messages/{env.m[1].id}"))["queue"] == "general"
    for message in (env.m[0], env.m[2]):
        await env.get(f"/messages/{message.id}", expect=403)
        await env.get(f"/messages/{message.id}/audio", expect=403)
        await env.post(f"/messages/{message.id}/heard", expect=403)
        resp = await env.client.delete(f"/messages/{message.id}")
        assert resp.status == 403
    assert (await env.store.get(env.m[0].id)) is not None, "nothing deleted"
    assert not (await env.store.get(env.m[0].id)).heard  # type: ignore[union-attr]
