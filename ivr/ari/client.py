"""The ARI client: one WebSocket reader, reconnect with backoff, reconciliation, REST resources.

The reader only parses and routes; it never awaits anything but the socket, because Asterisk
drops a WebSocket client that does not read within `websocket_write_timeout` (100 ms).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from .errors import AriError, AriHttpError, ResourceGone, error_for_status
from .events import StasisEnd, StasisStart, parse_event
from .handles import Ari
from .models import Channel
from .resources import Bridges, Channels, Endpoints, Recordings, System
from .router import EventRouter, Subscription, UnclaimedHandler

log = logging.getLogger(__name__)

ReconnectHook = Callable[[], Awaitable[None]]

MAX_CONNECTIONS = 400
"""Sized with Asterisk's http.conf `sessionlimit` (500), which counts every keep-alive
connection and the event WebSocket as a session: this limit, plus the WebSocket, plus room for
everything else that talks to ARI (`ivr asterisk`, the tests' own requests), must stay under
it. Then a burst queues here instead of Asterisk refusing sessions ("HTTP session count
exceeded", seen by us as "Server disconnected"), which is what happened when both were 100
(aiohttp's default) with the WebSocket on top, at 250 listening callers. 400 is far above
what the 300 callers at once measured here keep in flight (each call has one or two requests
outstanding at a time; bench/README.md)."""


def basic_authorization(username: str, password: str) -> str:
    """The Authorization header ARI expects, for REST and the WebSocket upgrade alike."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


@dataclass(frozen=True, slots=True)
class AriConfig:
    url: str
    """Base HTTP URL of Asterisk's HTTP server, e.g. http://127.0.0.1:8088."""
    username: str
    password: str
    app: str
    request_timeout: float = 10.0
    reconnect_min: float = 0.2
    reconnect_max: float = 10.0
    max_connections: int = MAX_CONNECTIONS
    """REST connections open at once; more requests wait in the client for a free one."""

    def __repr__(self) -> str:
        return f"AriConfig(url={self.url!r}, username={self.username!r}, app={self.app!r})"


def stasis_args(channel: Channel) -> tuple[str, ...]:
    """The arguments the dialplan gave Stasis(app,arg1,...), recovered from the channel."""
    if channel.dialplan.app_name.lower() != "stasis":
        return ()
    parts = [part.strip() for part in channel.dialplan.app_data.split(",")]
    return tuple(parts[1:])


class AriClient:
    def __init__(self, config: AriConfig) -> None:
        self.config = config
        self.router = EventRouter()
        self.connected = asyncio.Event()
        self.connections = 0
        self.events_received = 0
        self._session: aiohttp.ClientSession | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reconcilers: set[asyncio.Task[None]] = set()
        self._on_connected: list[ReconnectHook] = []
        self._closing = False
        self._rejected: AriHttpError | None = None
        self._ari: Ari | None = None

    @property
    def ari(self) -> Ari:
        if self._ari is None:
            raise AriError("client not started")
        return self._ari

    @property
    def channels(self) -> Channels:
        return Channels(self.ari)

    @property
    def bridges(self) -> Bridges:
        return Bridges(self.ari)

    @property
    def recordings(self) -> Recordings:
        return Recordings(self.ari)

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.ari)

    @property
    def system(self) -> System:
        return System(self.ari)

    def subscribe(self, *keys: str) -> Subscription:
        return self.router.subscribe(*keys)

    def on_unclaimed(self, handler: UnclaimedHandler | None) -> None:
        """Receive events nobody subscribed to, synchronously (new inbound StasisStart)."""
        self.router.on_unclaimed(handler)

    def on_connected(self, hook: ReconnectHook) -> None:
        """Run after every (re)connection, once reconciliation has been dispatched."""
        self._on_connected.append(hook)

    async def start(self, wait: float | None = 10.0) -> None:
        """Open the session and the reader; wait up to `wait` s for the first connection."""
        from .transport import RestTransport

        self._closing = False
        self._rejected = None
        self._session = aiohttp.ClientSession(
            headers={"Authorization": basic_authorization(self.config.username,
                                                          self.config.password)},
            connector=aiohttp.TCPConnector(limit=self.config.max_connections),
        )
        rest = RestTransport(self._session, self.config.url, self.config.request_timeout)
        self._ari = Ari(rest=rest, router=self.router, app=self.config.app)
        self._reader = asyncio.create_task(self._read_forever(), name="ari-reader")
        if wait is not None:
            waiter = asyncio.ensure_future(self.connected.wait())
            await asyncio.wait({waiter, self._reader}, timeout=wait,
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not self.connected.is_set():
                await self.close()
                raise self._rejected or AriError(
                    f"no ARI WebSocket at {self.config.url} within {wait} s")

    async def close(self) -> None:
        self._closing = True
        for task in [self._reader, *self._reconcilers]:
            if task is not None:
                task.cancel()
        for task in [self._reader, *self._reconcilers]:
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._reader = None
        self.connected.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AriClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _ws_url(self) -> str:
        base = self.config.url.rstrip("/")
        scheme = "wss" if base.startswith("https") else "ws"
        return scheme + base[base.index(":"):] + "/ari/events"

    async def _read_forever(self) -> None:
        assert self._session is not None
        delay = self.config.reconnect_min
        while not self._closing:
            try:
                async with self._session.ws_connect(
                    self._ws_url(),
                    params={"app": self.config.app, "subscribeAll": "false"},
                    heartbeat=20.0,
                ) as ws:
                    delay = self.config.reconnect_min
                    self.connections += 1
                    log.info("ARI connected (connection %d)", self.connections)
                    self._spawn_reconcile()
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            self._route_text(msg.data)
                        elif msg.type == aiohttp.WSMsgType.ERROR:
                            break
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if (isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status in (401, 403)
                        and self.connections == 0):
                    # Refused before ever connecting: a configuration error; report it now.
                    self._rejected = error_for_status(exc.status, "GET", "/events", exc.message)
                    log.error("ARI refused the credentials: %s", self._rejected)
                    return
                log.warning("ARI WebSocket unavailable: %s", exc or type(exc).__name__)
            self.connected.clear()
            if self._closing:
                return
            log.info("ARI reconnecting in %.1f s", delay)
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self.config.reconnect_max)

    def _route_text(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            log.warning("ARI sent a non-JSON message: %.80s", text)
            return
        if not isinstance(data, dict):
            log.warning("ARI sent a non-object message: %.80s", text)
            return
        self.events_received += 1
        self.router.dispatch(parse_event(data))

    def _spawn_reconcile(self) -> None:
        task = asyncio.create_task(self._reconcile(), name="ari-reconcile")
        self._reconcilers.add(task)
        task.add_done_callback(self._reconcilers.discard)

    async def _reconcile(self) -> None:
        """Events are not buffered across a disconnect: compare what we track with Asterisk.

        Tracked channels that are gone get a synthetic StasisEnd; channels in the application
        that nobody tracks get a synthetic StasisStart, which reaches the unclaimed handler.
        """
        try:
            app = await self.system.application()
            live = set(app.channel_ids)
            tracked = {
                key.partition(":")[2]
                for key in self.router.subscribed_keys()
                if key.startswith("channel:")
            }
            for channel_id in sorted(tracked - live):
                try:
                    await self.channels.handle(channel_id).get()
                    continue  # exists but outside Stasis: e.g. an outbound call still ringing
                except ResourceGone:
                    pass
                self.router.dispatch(
                    StasisEnd(type=StasisEnd.TYPE, application=self.config.app, synthetic=True,
                              channel=Channel(id=channel_id))
                )
            for channel_id in sorted(live - tracked):
                try:
                    channel = await self.channels.handle(channel_id).get()
                except ResourceGone:
                    continue
                self.router.dispatch(
                    StasisStart(type=StasisStart.TYPE, application=self.config.app,
                                synthetic=True, channel=channel, args=stasis_args(channel))
                )
        except AriError as exc:
            log.warning("ARI reconciliation failed: %s", exc)
        self.connected.set()
        for hook in list(self._on_connected):
            try:
                await hook()
            except Exception:
                log.exception("on_connected hook failed")
