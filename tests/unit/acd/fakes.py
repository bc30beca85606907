"""Small fakes for the ACD's unit tests: ARI's REST side, a clock, a caller, a database.

The ACD only talks to Asterisk through `AriClient`'s resources and handles. The fake here
keeps the real client, resources, handles and event router, and replaces just the REST
transport: it answers what the ACD asks (endpoints, originate, bridges, hangup) from plain
attributes and records every request. Events are pushed with `FakeAriClient.emit`, straight
into the real router, so handles' subscriptions see them exactly as they would in production.
`finish_playbacks` ends every playback as soon as it started, for tests that play whole
conversations (the callback service's, the desktop events').
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ivr.ari import AriClient, AriConfig, Event, PlaybackFinished
from ivr.ari.errors import error_for_status
from ivr.ari.events import ChannelEvent
from ivr.ari.handles import Ari
from ivr.ari.models import Channel, Playback
from ivr.ari.transport import RestTransport
from ivr.media.prompts import PromptLibrary
from ivr.services.acd.config import AcdConfig
from ivr.services.acd.config_reader import parse_acd_config
from ivr.services.acd.engine import Acd
from ivr.services.acd.queue_log import QueueLogEvent
from ivr.services.acd.store import AcdStore
from ivr.services.db import Database, connect
from ivr.services.place import InFlow, Place, PlaceKind, Whereabouts
from ivr.services.seam import EndedBy

T = TypeVar("T")
E = TypeVar("E", bound=ChannelEvent)

T0 = 1_700_000_000.0
"""The fake clock's start: whole seconds, so times survive the database round trip exactly."""

_ORIGINATE = re.compile(r"/channels/([^/]+)")
_ENDPOINT = re.compile(r"/endpoints/([^/]+)/(.+)")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Mapping[str, Any]


class FakeRest(RestTransport):
    """ARI's REST API as far as the ACD uses it; every request is kept in `requests`."""

    def __init__(self) -> None:  # no HTTP session: nothing leaves the process
        self.requests: list[Request] = []
        self.endpoints: dict[str, tuple[str, tuple[str, ...]]] = {}
        """'PJSIP/a1' -> (state, channel_ids); an endpoint not listed is online and idle."""
        self.originated: list[tuple[str, str]] = []
        """(channel id, endpoint) of every originate, in order."""
        self.bridges: dict[str, list[str]] = {}
        """Bridge id -> channels in it now."""
        self.bridge_types: dict[str, str] = {}
        self.hung_up: list[str] = []
        self.gone: set[str] = set()
        """Channels that no longer exist (GET answers 404)."""
        self._failures: list[tuple[str, str, int]] = []

    def fail(self, method: str, path: str, status: int) -> None:
        """Answer the next `method` request whose path starts with `path` with `status`."""
        self._failures.append((method, path, status))

    def sent(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      body: Mapping[str, Any] | None = None) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        self.requests.append(Request(method, path, params))
        await asyncio.sleep(0)  # a real request always lets other tasks run
        for failure in self._failures:
            if failure[0] == method and path.startswith(failure[1]):
                self._failures.remove(failure)
                raise error_for_status(failure[2], method, path, "scripted failure")
        if method == "GET" and (m := _ENDPOINT.fullmatch(path)):
            tech, resource = m.groups()
            state, channels = self.endpoints.get(f"{tech}/{resource}", ("online", ()))
            return {"technology": tech, "resource": resource, "state": state,
                    "channel_ids": list(channels)}
        if method == "GET" and (m := _ORIGINATE.fullmatch(path)):
            if m.group(1) in self.gone:
                raise error_for_status(404, method, path, "Channel not found")
            return {"id": m.group(1), "state": "Up"}
        if method == "POST" and (m := _ORIGINATE.fullmatch(path)):
            self.originated.append((m.group(1), str(params["endpoint"])))
            return {"id": m.group(1), "state": "Down"}
        if method == "DELETE" and (m := _ORIGINATE.fullmatch(path)):
            self.hung_up.append(m.group(1))
            return None
        if path.startswith("/bridges/"):
            return self._bridge(method, path.split("/")[2:], params)
        return None

    def _bridge(self, method: str, parts: list[str], params: Mapping[str, Any]) -> Any:
        bridge_id, op = parts[0], "/".join(parts[1:])
        channels = [c for c in str(params.get("channel", "")).split(",") if c]
        if method == "POST" and not op:
            self.bridges.setdefault(bridge_id, [])
            self.bridge_types[bridge_id] = str(params.get("type", ""))
            return {"id": bridge_id, "bridge_type": params.get("type", "")}
        if method == "GET" and not op:
            if bridge_id not in self.bridges:
                raise error_for_status(404, method, f"/bridges/{bridge_id}", "Bridge not found")
            return {"id": bridge_id, "channels": list(self.bridges[bridge_id])}
        if method == "DELETE" and not op:
            self.bridges.pop(bridge_id, None)
        elif op == "addChannel":
            self.bridges.setdefault(bridge_id, []).extend(channels)
        elif op == "removeChannel":
            members = self.bridges.get(bridge_id, [])
            self.bridges[bridge_id] = [c for c in members if c not in channels]
        return None

    async def request_bytes(self, method: str, path: str, *,
                            params: Mapping[str, Any] | None = None,
                            body: Mapping[str, Any] | None = None) -> bytes:
        raise NotImplementedError(path)


class FakeAriClient(AriClient):
    """The real client (router, resources, handles) on a FakeRest; never connects."""

    def __init__(self) -> None:
        super().__init__(AriConfig(url="http://ari.invalid", username="ari", password="x",
                                   app="ivr"))
        self.rest = FakeRest()
        self._fake = Ari(rest=self.rest, router=self.router, app="ivr")

    @property
    def ari(self) -> Ari:
        return self._fake

    def emit(self, event: Event) -> None:
        """As the WebSocket reader does: route the event to its subscribers."""
        self.router.dispatch(event)

    def channel_event(self, kind: type[E], channel_id: str, **fields: Any) -> None:
        self.emit(kind(type=kind.TYPE, application="ivr", channel=Channel(id=channel_id),
                       **fields))


class FakeClock:
    """Acd's clock: time stands still until the test moves it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeCaller:
    """A caller in a queue (session.QueueCaller): digits come from `digits`, traces are kept.

    `read_digit` gives up after a few milliseconds whatever timeout it is asked for: the wait
    loop re-checks its deadline after every read, and the tests move the clock themselves.
    """

    POLL = 0.005

    def __init__(self, client: AriClient, channel_id: str = "caller-1",
                 caller: str = "01012345678", language: str = "ko") -> None:
        self.id = channel_id
        self.caller = caller
        self.caller_name = "Kim Caller"
        self.language = language
        self.handle = client.channels.handle(channel_id)
        self.hangup_by = ""
        self.whereabouts = Whereabouts(channel_id)
        """Checked like a real call's: a session that moves the caller illegally fails."""
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.traces: list[tuple[str, dict[str, Any]]] = []

    def move(self, place: Place) -> None:
        if self.whereabouts.place.kind is PlaceKind.ANSWERING:
            self.whereabouts.move(InFlow("fake"))  # it came from a flow's queue node
        self.whereabouts.move(place)

    def ended_by(self, who: EndedBy) -> None:
        self.hangup_by = self.hangup_by or who.value

    async def read_digit(self, timeout: float, *, secure: bool = False) -> str | None:
        try:
            return await asyncio.wait_for(self.digits.get(), min(timeout, self.POLL))
        except TimeoutError:
            return None

    def trace(self, event: str, **fields: Any) -> None:
        self.traces.append((event, fields))


@dataclass
class Rig:
    """An Acd on a fake ARI, a fake clock and a real SQLite database."""

    acd: Acd
    client: FakeAriClient
    clock: FakeClock
    store: AcdStore
    db: Database
    config: list[AcdConfig] = field(default_factory=list)

    @property
    def rest(self) -> FakeRest:
        return self.client.rest

    async def logged(self, *verbs: str) -> list[QueueLogEvent]:
        """The queue log so far (only these verbs, if given), in the order written."""
        events = await self.store.log_events()
        return [e for e in events if not verbs or e.event in verbs]

    async def lines(self, *verbs: str) -> list[str]:
        """The log as 'call|queue|agent|VERB|data...' (no time), easy to compare whole."""
        return ["|".join((e.call_id, e.queue, e.agent, e.event, *e.data))
                for e in await self.logged(*verbs)]


@asynccontextmanager
async def rig(tmp_path: Path, queues_yaml: str, *, db_name: str = "acd.db",
              clock: FakeClock | None = None) -> AsyncIterator[Rig]:
    """A migrated SQLite database at tmp_path/db_name (reused if it exists: a restart) and an
    Acd on it that knows its agents (logged out) but is not started, so nothing dispatches
    unless the test starts it; stopped and closed on exit."""
    db = await connect(f"sqlite:///{tmp_path / db_name}")
    await db.migrate()
    config = [parse_acd_config(queues_yaml)]
    client = FakeAriClient()
    store = AcdStore(db)
    the_clock = clock or FakeClock()
    acd = Acd(client, store, lambda: config[0], PromptLibrary(tmp_path / "no-prompts"),
              clock=the_clock)
    acd.sync_agents()
    try:
        yield Rig(acd, client, the_clock, store, db, config)
    finally:
        await stop(acd)
        await db.close()


async def stop(acd: Acd) -> None:
    """acd.stop(), bounded: a dispatcher that ignores its cancellation fails the test instead of
    hanging the run (test_stop_right_after_a_wake_ends_the_dispatcher)."""
    async with asyncio.timeout(2.0):
        await acd.stop()


async def eventually(probe: Callable[[], T | None], timeout: float = 1.0) -> T:
    """Wait until `probe()` is neither None nor False; its value."""
    async with asyncio.timeout(timeout):
        while True:
            value = probe()
            if value is not None and value is not False:
                return value
            await asyncio.sleep(0.002)  # the state polled is the ACD's, with no event to await


def finish_playbacks(r: Rig) -> list[str]:
    """Every playback but a tone finishes as soon as ARI started it (PlaybackFinished)."""
    played: list[str] = []
    rest: Any = r.rest
    real = rest.request

    async def request(method: str, path: str, **kwargs: Any) -> Any:
        result = await real(method, path, **kwargs)
        parts = path.split("/")  # ['', 'channels', <channel>, 'play', <playback>]
        if method == "POST" and len(parts) == 5 and parts[1] == "channels" \
                and parts[3] == "play":
            media = str(kwargs["params"]["media"])
            played.extend(media.split(","))
            if not media.startswith("tone:"):
                done = PlaybackFinished(type=PlaybackFinished.TYPE, application="ivr",
                                        playback=Playback(id=parts[4], media_uri=media,
                                                          target_uri=f"channel:{parts[2]}"))
                asyncio.get_running_loop().call_soon(r.client.emit, done)
        return result

    rest.request = request
    return played
