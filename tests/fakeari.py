"""An in-process fake of Asterisk 22's ARI, just enough for the client and Call unit tests.

Asterisk's status codes, JSON shapes and event order for basic auth (REST and WebSocket), the
event WebSocket, /asterisk/info, /applications/{app}, channels (list, get, hangup, originate,
answer, play), DELETE /playbacks/{id}, bridges. A hangup (ours, soft; or the caller's) gives
ChannelHangupRequest, PlaybackFinished, StasisEnd, ChannelDestroyed; events sent while no
WebSocket is connected are lost. Tests script it with FakeAri's public methods and attributes
(add_channel, emit_stasis_start, hangup_from_caller, fail, events_before_response, ...) and
read `requests`, what the app asked, in order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from ivr.ari import AriConfig

Json = dict[str, Any]
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ASTERISK_ID = "02:42:ac:11:00:02"
_serial = itertools.count(1)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


@dataclass
class FakeChannel:
    id: str
    state: str = "Up"
    caller_number: str = "1001"
    in_stasis: bool = True
    stasis_args: tuple[str, ...] = ()
    created: str = field(default_factory=_now)

    def to_json(self, app: str) -> Json:
        return {
            "id": self.id, "name": f"PJSIP/{self.caller_number}-{self.id}", "state": self.state,
            "protocol_id": f"{self.id}@127.0.0.1",
            "caller": {"name": "", "number": self.caller_number},
            "connected": {"name": "", "number": ""}, "accountcode": "",
            "dialplan": {"context": "from-internal", "exten": "100", "priority": 2,
                         "app_name": "Stasis", "app_data": ",".join((app, *self.stasis_args))},
            "creationtime": self.created, "language": "en",
        }


@dataclass
class FakePlayback:
    id: str
    media_uri: str
    target_uri: str
    state: str = "queued"
    stop: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "playing")

    def to_json(self) -> Json:
        return {"id": self.id, "media_uri": self.media_uri, "target_uri": self.target_uri,
                "language": "en", "state": self.state}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # relative to /ari, as the client's transport writes it: /channels/x/answer
    query: dict[str, str]


class FakeAri:
    def __init__(self, *, username: str = "ari", password: str = "secret", app: str = "ivr",
                 playback_duration: float = 0.03) -> None:
        self.username, self.password, self.app = username, password, app
        self.playback_duration = playback_duration
        self.durations: dict[str, float] = {}  # media URI -> seconds it plays
        self.missing_media: set[str] = set()  # PlaybackFinished state=failed, as Asterisk does
        self.events_before_response: float | None = None  # emit events, wait, then answer
        self.refuse_websockets = False
        self.channels: dict[str, FakeChannel] = {}
        self.playbacks: dict[str, FakePlayback] = {}  # every playback ever; see `active`
        self.bridges: dict[str, list[str]] = {}
        self.requests: list[RecordedRequest] = []
        self.ws_connections = 0
        self.ws_rejected = 0
        self.url = ""
        self._sockets: set[web.WebSocketResponse] = set()
        self._send_lock = asyncio.Lock()
        self._change = asyncio.Event()
        self._failures: list[tuple[str, str, int]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        for method, path, handler in [
            *self.extra_routes(),  # first: /channels/externalMedia before /channels/{id}
            ("GET", "/events", self._events), ("GET", "/asterisk/info", self._info),
            ("GET", "/applications/{app}", self._application),
            ("GET", "/channels", self._list_channels), ("GET", "/channels/{id}", self._get),
            ("DELETE", "/channels/{id}", self._hangup), ("POST", "/channels/{id}", self._originate),
            ("POST", "/channels/{id}/answer", self._answer),
            ("POST", "/channels/{id}/play/{pid}", self._play),
            ("DELETE", "/playbacks/{pid}", self._stop_playback),
            ("POST", "/bridges/{id}", self._create_bridge),
            ("POST", "/bridges/{id}/addChannel", self._add_to_bridge),
        ]:
            app.router.add_route(method, "/ari" + path, handler)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def extra_routes(self) -> list[tuple[str, str, Handler]]:
        """More (method, path after /ari, handler) for a subclass (tests/fakeari_media.py)."""
        return []

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.drop_websockets()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeAri:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def config(self, *, password: str | None = None, **overrides: Any) -> AriConfig:
        """For this server; reconnects fast unless overridden."""
        options: dict[str, Any] = {"reconnect_min": 0.05, "reconnect_max": 0.2,
                                   "request_timeout": 5.0, **overrides}
        return AriConfig(url=self.url, username=self.username, app=self.app,
                         password=self.password if password is None else password, **options)

    def add_channel(self, channel_id: str | None = None, **fields: Any) -> FakeChannel:
        """A channel that exists in Asterisk; nothing is announced (see emit_stasis_start)."""
        channel = FakeChannel(id=channel_id or f"{time.time():.0f}.{next(_serial)}", **fields)
        self.channels[channel.id] = channel
        return channel

    def remove_channel(self, channel_id: str) -> None:  # gone, and no event tells the app
        self.channels.pop(channel_id, None)

    def fail(self, method: str, path: str, status: int, times: int = 1) -> None:
        """Answer the next `times` requests whose path starts with `path` (after /ari)."""
        self._failures += [(method.upper(), path, status)] * times

    async def send_event(self, event: Json | str) -> None:
        """Send a dict as JSON, or any text as is, to every connected WebSocket."""
        text = event if isinstance(event, str) else json.dumps(event)
        async with self._send_lock:
            for ws in list(self._sockets):
                if not ws.closed:
                    with contextlib.suppress(ConnectionError):
                        await ws.send_str(text)
        self._changed()

    async def emit(self, event_type: str, **fields: Any) -> None:
        await self.send_event({"type": event_type, "timestamp": _now(),
                               "asterisk_id": ASTERISK_ID, "application": self.app, **fields})

    async def emit_stasis_start(self, channel: FakeChannel | str, *args: str) -> None:
        chan = self.channels[channel] if isinstance(channel, str) else channel
        chan.in_stasis = True
        await self.emit("StasisStart", args=list(args), channel=chan.to_json(self.app))

    async def send_dtmf(self, channel_id: str, digit: str, duration_ms: int = 120) -> None:
        await self.emit("ChannelDtmfReceived", digit=digit, duration_ms=duration_ms,
                        channel=self.channels[channel_id].to_json(self.app))

    async def hangup_from_caller(self, channel_id: str) -> None:  # no `soft`: not ARI's doing
        channel = self.channels[channel_id]
        await self.emit("ChannelHangupRequest", cause=16, channel=channel.to_json(self.app))
        await self._destroy(channel)

    async def drop_websockets(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"going away")
        self._sockets.clear()

    def requests_to(self, method: str, prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def played_media(self, channel_id: str) -> list[str]:  # in the order the app asked
        return [r.query.get("media", "")
                for r in self.requests_to("POST", f"/channels/{channel_id}/play/")]

    async def wait_until(self, probe: Callable[[], T | None], timeout: float = 2.0) -> T:
        """Wait until `probe()` is not None or False: checked on every change of the fake's
        state, and every 5 ms for state it cannot see change (the app's, the client's)."""
        async with asyncio.timeout(timeout):
            while (value := probe()) is None or value is False:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._change.wait(), 0.005)
        return value

    async def wait_for_playback(self, channel_id: str, media: str, occurrence: int = 1,
                                timeout: float = 2.0) -> str:
        """Wait until the `occurrence`th playback of `media` has started; its id."""
        def started() -> str | None:
            hits = [p.id for p in self.playbacks.values() if p.state != "queued"
                    and p.target_uri == f"channel:{channel_id}" and p.media_uri == media]
            return hits[occurrence - 1] if len(hits) >= occurrence else None
        return await self.wait_until(started, timeout)

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, request: web.Request, response: web.Response,
                     then: Coroutine[Any, Any, None]) -> web.StreamResponse:
        """Answer, then emit the request's events (or the reverse: events_before_response)."""
        if self.events_before_response is not None:
            self._spawn(then)
            await asyncio.sleep(self.events_before_response)
            return response
        await response.prepare(request)
        await response.write_eof()
        self._spawn(then)
        return response

    def _authorized(self, request: web.Request) -> bool:
        expected = f"{self.username}:{self.password}"
        header = request.headers.get("Authorization", "")
        with contextlib.suppress(ValueError):
            if header.startswith("Basic ") and base64.b64decode(header[6:]).decode() == expected:
                return True
        return request.query.get("api_key") == expected

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path.removeprefix("/ari")
        self.requests.append(RecordedRequest(request.method, path, dict(request.query)))
        self._changed()
        if not self._authorized(request):
            if path == "/events":
                self.ws_rejected += 1
            return web.json_response({"message": "Authentication required"}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="Asterisk"'})
        for failure in self._failures:
            if failure[0] == request.method and path.startswith(failure[1]):
                self._failures.remove(failure)
                return _error(failure[2], "scripted failure")
        return await handler(request)

    def _channel(self, request: web.Request, *, stasis: bool) -> FakeChannel:
        channel = self.channels.get(request.match_info["id"])
        if channel is None:
            raise web.HTTPNotFound(text='{"message": "Channel not found"}',
                                   content_type="application/json")
        if stasis and not channel.in_stasis:
            raise web.HTTPConflict(text='{"message": "Channel not in Stasis application"}',
                                   content_type="application/json")
        return channel

    async def _destroy(self, channel: FakeChannel) -> None:
        playing = [p for p in self.playbacks.values()
                   if p.active and p.target_uri == f"channel:{channel.id}"]
        for playback in playing:
            playback.stop.set()
        await self.wait_until(lambda: not any(p.active for p in playing))
        self.channels.pop(channel.id, None)
        if channel.in_stasis:
            await self.emit("StasisEnd", channel=channel.to_json(self.app))
        await self.emit("ChannelDestroyed", cause=16, cause_txt="Normal Clearing",
                        channel=channel.to_json(self.app))

    async def _run_playback(self, playback: FakePlayback) -> None:
        playback.state = "playing"
        await self.emit("PlaybackStarted", playback=playback.to_json())
        missing = playback.media_uri in self.missing_media
        if not missing:
            duration = self.durations.get(playback.media_uri, self.playback_duration)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(playback.stop.wait(), duration)
        playback.state = "failed" if missing else "done"
        await self.emit("PlaybackFinished", playback=playback.to_json())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if self.app not in request.query.get("app", "").split(","):
            return _error(400, "Missing or unknown parameter app")
        if self.refuse_websockets:
            self.ws_rejected += 1
            return _error(503, "Service Unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_connections += 1
        self._sockets.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self._sockets.discard(ws)
        return ws

    async def _info(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"system": {"version": "22.10.1", "entity_id": ASTERISK_ID}})

    async def _application(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["app"] != self.app:
            return _error(404, "Application not found")
        in_app = [c.id for c in self.channels.values() if c.in_stasis]
        return web.json_response({"name": self.app, "channel_ids": in_app, "endpoint_ids": [],
                                  "bridge_ids": list(self.bridges), "device_names": []})

    async def _list_channels(self, request: web.Request) -> web.StreamResponse:
        return web.json_response([c.to_json(self.app) for c in self.channels.values()])

    async def _get(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._channel(request, stasis=False).to_json(self.app))

    async def _hangup(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request, stasis=False)

        async def events() -> None:
            await self.emit("ChannelHangupRequest", cause=16, soft=True,
                            channel=channel.to_json(self.app))
            await self._destroy(channel)

        return await self._reply(request, web.Response(status=204), events())

    async def _originate(self, request: web.Request) -> web.StreamResponse:
        channel_id, query = request.match_info["id"], request.query
        if not query.get("endpoint"):
            return _error(400, "Endpoint must be specified")
        channel = self.add_channel(channel_id, state="Down", in_stasis=False,
                                   caller_number=query.get("callerId", ""))

        async def answered() -> None:
            channel.state = "Up"
            if query.get("app") == self.app:
                await self.emit_stasis_start(channel, *filter(None, [query.get("appArgs")]))

        return await self._reply(request, web.json_response(channel.to_json(self.app)),
                                 answered())

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request, stasis=True)
        channel.state = "Up"
        return await self._reply(request, web.Response(status=204), self.emit(
            "ChannelStateChange", channel=channel.to_json(self.app)))

    async def _play(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request, stasis=True)
        if not (media := request.query.get("media")):
            return _error(400, "media: missing required parameter")
        playback = FakePlayback(request.match_info["pid"], media, f"channel:{channel.id}")
        self.playbacks[playback.id] = playback
        return await self._reply(request, web.json_response(playback.to_json(), status=201),
                                 self._run_playback(playback))

    async def _stop_playback(self, request: web.Request) -> web.StreamResponse:
        if not (playback := self.playbacks.get(request.match_info["pid"])) or not playback.active:
            return _error(404, "Playback not found")
        playback.stop.set()
        return web.Response(status=204)

    async def _create_bridge(self, request: web.Request) -> web.StreamResponse:
        bridge_id = request.match_info["id"]
        return web.json_response({"id": bridge_id, "bridge_type": request.query.get("type"),
                                  "channels": self.bridges.setdefault(bridge_id, [])})

    async def _add_to_bridge(self, request: web.Request) -> web.StreamResponse:
        bridge_id = request.match_info["id"]
        if bridge_id not in self.bridges:
            return _error(404, "Bridge not found")
        ids = [c for c in request.query.get("channel", "").split(",") if c]
        if not ids or any(c not in self.channels for c in ids):
            return _error(400, "Channel not found")  # Asterisk says 400 here, not 404
        if any(not self.channels[c].in_stasis for c in ids):
            return _error(422, "Channel not in Stasis application")
        self.bridges[bridge_id].extend(ids)
        return web.Response(status=204)
