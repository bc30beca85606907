"""The caller's voice, live, for a recognizer: set up only when a menu listens.

How the audio gets out of Asterisk: a snoop channel on the caller (`spy=in`) and an
externalMedia channel (RTP, slin16, to a UDP socket of ours on 127.0.0.1) in a small mixing
bridge of their own. Alternatives considered:

- Caller + externalMedia in one mixing bridge (the textbook recipe). It moves the caller into
  a bridge: a caller already in one (waiting in a queue's holding bridge, talking to an agent)
  would be pulled out of it, the flow's playback and DTMF would run inside a bridge, and
  prompts stay out of the recognizer only as long as every playback targets the caller
  channel, never the bridge.
- AudioSocket or the WebSocket media channel: the same bridging question, plus a protocol
  Asterisk 22 is still fixing (WebSocket: 22.6 to 22.10). RTP over loopback is the stable path.

The snoop reads the caller channel's audiohook in the READ direction only: what the caller's
phone sends. Prompts, music on hold and an agent's voice are WRITTEN to the caller, so none of
them can reach the recognizer, whether played on the channel or on any bridge, and the caller
is never moved: listening works the same alone, queued, or with an agent (Asterisk keeps a
bridge with an audiohook out of native RTP mode). Asterisk hangs the snoop up by itself when
the caller goes. The price is one more channel (the snoop) per listening menu.

Cost: nothing until `start()`: a DTMF-only call never creates a socket, channel or bridge.
`stop()`, the caller hanging up, or any of our pieces vanishing tears everything down (UDP
socket, both channels, the bridge, the subscription, the watcher task) and ends `frames()`.
Channels are created with `LISTENER_ARG` as their Stasis argument, so an application that
restarts can tell them from callers (`is_listener_leg`) and hang them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Coroutine
from typing import Any, TypeVar

from ..ari import (
    AriClient,
    AriError,
    AriHttpError,
    BridgeHandle,
    ChannelDestroyed,
    ChannelHandle,
    ChannelHangupRequest,
    Event,
    ResourceGone,
    StasisEnd,
    StasisStart,
    Subscription,
    SubscriptionClosed,
    channel_key,
    new_id,
)
from ..ari.events import BridgeDestroyed, bridge_key
from .rtp import SLIN16_PAYLOAD_TYPE, Depacketizer, RtpStats

log = logging.getLogger(__name__)

LISTENER_ARG = "caller-audio"
"""Stasis argument of the snoop and externalMedia channels a listener creates."""

SAMPLE_RATE = 16000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2  # 640: 320 samples of 16-bit little-endian


def is_listener_leg(event: StasisStart) -> bool:
    """A StasisStart of a channel a listener made (seen unclaimed after an app restart)."""
    return bool(event.args) and event.args[0] == LISTENER_ARG


class RtpReceiver(asyncio.DatagramProtocol):
    """A UDP socket on loopback turning RTP into a queue of 20 ms little-endian frames.

    The queue is bounded (`max_frames`); a consumer that falls behind loses the oldest audio,
    never the event loop's memory.
    """

    def __init__(self, depacketizer: Depacketizer, max_frames: int) -> None:
        self.depacketizer = depacketizer
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._max_frames = max_frames
        self._transport: asyncio.DatagramTransport | None = None
        self.overflow = 0
        self.closed = asyncio.Event()

    @classmethod
    async def open(cls, host: str = "127.0.0.1", port: int = 0, *,
                   payload_type: int = SLIN16_PAYLOAD_TYPE, sample_rate: int = SAMPLE_RATE,
                   frame_ms: int = FRAME_MS, max_frames: int = 250) -> RtpReceiver:
        depacketizer = Depacketizer(payload_type=payload_type, sample_rate=sample_rate,
                                    frame_ms=frame_ms)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: cls(depacketizer, max_frames), local_addr=(host, port))
        protocol._transport = transport
        return protocol

    @property
    def address(self) -> tuple[str, int]:
        if self._transport is None:
            raise RuntimeError("receiver is closed")
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    @property
    def stats(self) -> RtpStats:
        return self.depacketizer.stats

    def expect_source(self, address: tuple[str, int] | None) -> None:
        """Accept datagrams from this address only (Asterisk's RTP port for the channel)."""
        self.depacketizer.source = address

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        for frame in self.depacketizer.feed(data, (str(addr[0]), int(addr[1]))):
            if self._queue.qsize() >= self._max_frames:
                self._queue.get_nowait()
                self.overflow += 1
            self._queue.put_nowait(frame)

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._queue.put_nowait(None)
        self.closed.set()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def frames(self) -> AsyncIterator[bytes]:
        """Frames as they come, until the socket is closed. One consumer."""
        while (frame := await self._queue.get()) is not None:
            yield frame
        self._queue.put_nowait(None)  # a later call to frames() ends at once too


H = TypeVar("H", bound=ChannelHandle | BridgeHandle)
_GONE = (ChannelHangupRequest, StasisEnd, ChannelDestroyed, BridgeDestroyed)


class ListenerStopped(AriError):
    """stop() (or the caller hanging up) came while start() was still setting up."""


class CallerAudio:
    """The caller's audio as 16 kHz, 20 ms little-endian frames, from `start()` to `stop()`.

    Single use: start once, stop once (stop is idempotent and safe from any task, also while
    start() is still setting up: start() then raises ListenerStopped).
    """

    def __init__(self, client: AriClient, caller_id: str, *, setup_timeout: float = 5.0,
                 max_frames: int = 250) -> None:
        self.client = client
        self.caller_id = caller_id
        self.setup_timeout = setup_timeout
        self.max_frames = max_frames
        self.snoop_id = new_id("snoop-")
        self.media_id = new_id("em-")
        self.bridge_id = new_id("br-listen-")
        self.receiver: RtpReceiver | None = None
        self.stopped = asyncio.Event()
        self._started = False
        self._events: Subscription | None = None
        self._created: set[str] = set()  # keys of what we asked Asterisk to make
        self._gone: set[str] = set()  # keys of what Asterisk said is gone
        self._setup: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._teardown: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Future[Any]] = set()

    @property
    def started(self) -> bool:
        """start() was called: there may be something to tear down."""
        return self._setup is not None

    @property
    def active(self) -> bool:
        return self._watcher is not None and self._teardown is None

    async def start(self) -> None:
        """Create the path; raises (having undone everything) if it cannot be made."""
        if self._started:
            raise RuntimeError("a CallerAudio is started once")
        self._started = True
        self._setup = asyncio.create_task(self._set_up(), name=f"listen-{self.caller_id}")
        try:
            await self._setup
        except BaseException as exc:
            await asyncio.shield(self._begin_teardown())
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and task and not task.cancelling():
                raise ListenerStopped(f"stopped while listening to {self.caller_id} began") \
                    from None
            raise
        if self._teardown is None:
            self._watcher = asyncio.create_task(self._watch(), name=f"listen-{self.caller_id}")
        else:  # the caller went between the last event read and now
            raise ListenerStopped(f"{self.caller_id} went while listening began")

    async def stop(self) -> None:
        """Tear everything down and wait until Asterisk confirms it."""
        self._started = True  # a listener stopped before it started never starts
        await asyncio.shield(self._begin_teardown())

    def release(self) -> asyncio.Task[None]:
        """Begin the teardown and return at once, for a caller waiting for the next prompt:
        `frames()` ends now, and the returned task ends when Asterisk has confirmed that
        everything went (what stop() waits for). Confirming takes a round trip or more, and
        a snoop lingers until the caller's channel next handles a frame, which the next prompt
        does: waiting for that before playing it stalled every listening menu's key -> prompt
        (about a second when the caller sends no audio)."""
        self._started = True
        return self._begin_teardown()

    async def frames(self) -> AsyncIterator[bytes]:
        """640-byte frames until stopped (or the caller hangs up). One consumer."""
        if self.receiver is None:
            return
        async for frame in self.receiver.frames():
            yield frame

    async def __aenter__(self) -> CallerAudio:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _set_up(self) -> None:
        client = self.client
        # Stage and subscribe first: every id is ours, so no event of the pieces is missed.
        self._events = client.subscribe(
            channel_key(self.caller_id), channel_key(self.snoop_id),
            channel_key(self.media_id), bridge_key(self.bridge_id))
        self.receiver = await RtpReceiver.open(max_frames=self.max_frames)
        host, port = self.receiver.address
        # All three at once: a path opened when the caller starts talking loses what is said
        # until it is open (one round trip instead of three). If the caller went, the snoop
        # fails and the teardown removes the other two.
        snoop, bridge, media = await asyncio.gather(
            self._create(channel_key(self.snoop_id), client.channels.handle(
                self.caller_id).snoop(spy="in", app_args=LISTENER_ARG,
                                      snoop_id=self.snoop_id)),
            self._create(bridge_key(self.bridge_id), client.bridges.create(
                "mixing", name=LISTENER_ARG, bridge_id=self.bridge_id)),
            self._create(channel_key(self.media_id), client.channels.external_media(
                f"{host}:{port}", fmt="slin16", data=LISTENER_ARG,
                channel_id=self.media_id)))
        self.receiver.expect_source(media.local_address)
        await self._until_in_stasis()
        try:
            await bridge.add(self.snoop_id, self.media_id)
        except AriHttpError as exc:  # most likely the caller (and so the snoop) just went
            if await self._went():
                raise ListenerStopped(f"{self.caller_id} went while listening began") from exc
            raise
        log.info("listening to %s (RTP on %s:%d) via %s", self.caller_id, host, port, snoop.id)

    async def _create(self, key: str, request: Coroutine[Any, Any, H]) -> H:
        """One creating POST, noted first and shielded: stopped meanwhile, the teardown waits
        for Asterisk's reply before removing what it made, so nothing is created behind it."""
        self._created.add(key)
        inflight = asyncio.ensure_future(request)
        self._inflight.add(inflight)
        handle = await asyncio.shield(inflight)
        _close(handle.events)  # our one subscription already covers it
        return handle

    async def _until_in_stasis(self) -> None:
        """Bridging needs both channels in the application; either may get there after the
        HTTP reply. A hangup meanwhile fails the start."""
        assert self._events is not None
        waiting = {self.snoop_id, self.media_id}
        async with asyncio.timeout(self.setup_timeout):
            while waiting:
                event = await self._events.get()
                if isinstance(event, StasisStart):
                    waiting.discard(event.channel.id)
                elif self._ends_us(event):
                    raise ListenerStopped(f"listening to {self.caller_id}: {event.type}")

    async def _went(self) -> bool:
        """Whether the events already queued say the caller or a piece of ours went."""
        assert self._events is not None
        went = False
        while self._events.pending():
            went = self._ends_us(await self._events.get()) or went
        return went

    def _ends_us(self, event: Event) -> bool:
        """Notes what went; True if it was the caller or one of our pieces."""
        if isinstance(event, BridgeDestroyed) and event.bridge.id == self.bridge_id:
            self._gone.add(bridge_key(self.bridge_id))
            return True
        if not isinstance(event, _GONE) or isinstance(event, BridgeDestroyed):
            return False
        if event.channel.id in (self.snoop_id, self.media_id):
            if isinstance(event, StasisEnd | ChannelDestroyed):
                self._gone.add(channel_key(event.channel.id))
            return True
        return event.channel.id == self.caller_id

    async def _watch(self) -> None:
        """Until the caller or one of our pieces goes; then tear down."""
        assert self._events is not None
        try:
            async for event in self._events:
                if self._ends_us(event):
                    log.info("listener for %s ends: %s", self.caller_id, event.type)
                    break
        except Exception:
            log.exception("listener for %s: watcher failed", self.caller_id)
        self._begin_teardown()

    def _begin_teardown(self) -> asyncio.Task[None]:
        if self._teardown is None:
            self._teardown = asyncio.create_task(self._tear_down(),
                                                 name=f"unlisten-{self.caller_id}")
        return self._teardown

    async def _tear_down(self) -> None:
        current = asyncio.current_task()
        for task in (self._setup, self._watcher):
            if task is not None and task is not current and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._inflight:
            await asyncio.wait(self._inflight)
        for inflight in self._inflight:
            if not inflight.cancelled() and inflight.exception() is None:
                handle = inflight.result()
                if isinstance(handle, ChannelHandle | BridgeHandle):
                    _close(handle.events)
        if self.receiver is not None:
            self.receiver.close()
        try:
            await self._remove_pieces()
        finally:
            if self._events is not None:
                self._events.close()
            if self.receiver is not None:
                stats, reorder = self.receiver.stats, self.receiver.depacketizer.reorder
                log.info("listener for %s stopped: %d frames, %d lost, %d late, %d dropped",
                         self.caller_id, stats.frames, reorder.lost, reorder.late,
                         self.receiver.overflow)
            self.stopped.set()

    async def _remove_pieces(self) -> None:
        """Hang up our channels and destroy our bridge; wait (briefly) for Asterisk to confirm,
        so that nothing is left when stop() returns."""
        removals: dict[str, Awaitable[None]] = {}
        for channel_id in (self.media_id, self.snoop_id):
            key = channel_key(channel_id)
            if key in self._created and key not in self._gone:
                removals[key] = self.client.channels.handle(channel_id).hangup()
        key = bridge_key(self.bridge_id)
        if key in self._created and key not in self._gone:
            removals[key] = self.client.bridges.handle(self.bridge_id).destroy()
        results = await asyncio.gather(*removals.values(), return_exceptions=True)
        for key, result in zip(removals, results, strict=True):
            if isinstance(result, ResourceGone) or (key == bridge_key(self.bridge_id)
                                                    and result is None):
                # DELETE /bridges answers once the bridge is destroyed, and it is the only
                # word we get: BridgeDestroyed reaches an application only while it is
                # subscribed to the bridge, which it stops being as its channels leave, so
                # a bridge destroyed with our channels still in it (or leaving, as our
                # hangups are processed concurrently) sends us nothing. Waiting for that
                # event was the 5-second stall after a key under load.
                self._gone.add(key)
            elif isinstance(result, BaseException):
                log.warning("listener teardown for %s: %s: %s", self.caller_id, key, result)
        await self._confirmed(set(removals) - self._gone)
        # StasisEnd is the last event ARI sends about a channel, and the snoop's own thread
        # hangs it up just after: ask until each is really gone, so nothing at all is left.
        for channel_id in (self.snoop_id, self.media_id):
            if channel_key(channel_id) in self._created:
                await self._until_gone(channel_id)

    async def _confirmed(self, waiting: set[str]) -> None:
        events = self._events
        if events is None or not waiting:
            return
        with contextlib.suppress(TimeoutError, SubscriptionClosed):
            async with asyncio.timeout(self.setup_timeout):
                while waiting - self._gone:
                    self._ends_us(await events.get())
        if waiting - self._gone:
            log.warning("listener for %s: no word that %s went", self.caller_id,
                        sorted(waiting - self._gone))

    async def _until_gone(self, channel_id: str) -> None:
        """Ask, 20 ms apart at first and backing off to 320 ms, for up to `setup_timeout`:
        a few requests per channel, not fifty (each is an HTTP session of Asterisk's)."""
        handle = self.client.channels.handle(channel_id)
        delay, deadline = 0.02, asyncio.get_running_loop().time() + self.setup_timeout
        while True:
            try:
                await handle.get()
            except ResourceGone:
                return
            except AriError:
                break
            if asyncio.get_running_loop().time() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.32)
        log.warning("listener for %s: %s still exists", self.caller_id, channel_id)


def _close(events: Subscription | None) -> None:
    if events is not None:
        events.close()
