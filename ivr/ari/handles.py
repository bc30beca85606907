"""Typed handles for ARI resources, in the style of CyCoreSystems/ari.

Operations that create something (originate, play, record, snoop, bridge) make the id here and
subscribe to it before the POST: Asterisk may send the first event before the HTTP response.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .events import (
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    bridge_key,
    channel_key,
    playback_key,
    recording_key,
)
from .models import Bridge, Channel, LiveRecording, Playback
from .router import EventRouter, Subscription
from .transport import RestTransport


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Ari:
    """What every handle needs: the REST transport, the router and the application name."""

    rest: RestTransport
    router: EventRouter
    app: str


async def staged(
    ari: Ari,
    key: str,
    path: str,
    params: Mapping[str, str | int | float | bool | None] | None = None,
    body: Mapping[str, object] | None = None,
) -> Subscription:
    """Stage, subscribe, execute: subscribe to `key` before the POST that creates it."""
    sub, _ = await staged_reply(ari, key, path, params, body)
    return sub


async def staged_reply(
    ari: Ari,
    key: str,
    path: str,
    params: Mapping[str, str | int | float | bool | None] | None = None,
    body: Mapping[str, object] | None = None,
) -> tuple[Subscription, Any]:
    """`staged`, keeping the POST's decoded reply (e.g. externalMedia's RTP address)."""
    sub = ari.router.subscribe(key)
    try:
        reply = await ari.rest.request("POST", path, params=params, body=body)
    except BaseException:
        sub.close()
        raise
    return sub, reply


class PlaybackHandle:
    def __init__(self, ari: Ari, playback_id: str, events: Subscription | None = None) -> None:
        self._ari = ari
        self.id = playback_id
        self.events = events

    async def get(self) -> Playback:
        return Playback.from_json(await self._ari.rest.request("GET", f"/playbacks/{self.id}"))

    async def stop(self) -> None:
        await self._ari.rest.request("DELETE", f"/playbacks/{self.id}")

    async def control(self, operation: str) -> None:
        """restart, pause, unpause, reverse or forward."""
        await self._ari.rest.request(
            "POST", f"/playbacks/{self.id}/control", params={"operation": operation}
        )

    async def finished(self, timeout: float | None = None) -> PlaybackFinished:
        """Wait for PlaybackFinished (requires the handle to have been created subscribed)."""
        if self.events is None:
            raise RuntimeError("playback handle has no subscription")
        try:
            return await self.events.wait_for(PlaybackFinished, timeout=timeout)
        finally:
            self.events.close()


class LiveRecordingHandle:
    def __init__(self, ari: Ari, name: str, events: Subscription | None = None) -> None:
        self._ari = ari
        self.name = name
        self.events = events

    def _path(self, suffix: str = "") -> str:
        return f"/recordings/live/{self.name}{suffix}"

    async def get(self) -> LiveRecording:
        return LiveRecording.from_json(await self._ari.rest.request("GET", self._path()))

    async def stop(self) -> None:
        """Stop and keep the recording."""
        await self._ari.rest.request("POST", self._path("/stop"))

    async def cancel(self) -> None:
        """Stop and discard the recording."""
        await self._ari.rest.request("DELETE", self._path())

    async def pause(self) -> None:
        await self._ari.rest.request("POST", self._path("/pause"))

    async def unpause(self) -> None:
        await self._ari.rest.request("DELETE", self._path("/pause"))

    async def mute(self) -> None:
        await self._ari.rest.request("POST", self._path("/mute"))

    async def unmute(self) -> None:
        await self._ari.rest.request("DELETE", self._path("/mute"))

    async def done(self, timeout: float | None = None) -> RecordingFinished | RecordingFailed:
        if self.events is None:
            raise RuntimeError("recording handle has no subscription")
        try:
            return await _recording_end(self.events, timeout)
        finally:
            self.events.close()


async def _recording_end(
    events: Subscription, timeout: float | None
) -> RecordingFinished | RecordingFailed:
    async with asyncio.timeout(timeout):
        while True:
            event = await events.get()
            if isinstance(event, RecordingFinished | RecordingFailed):
                return event


def _media_params(media: str | Sequence[str]) -> str:
    return media if isinstance(media, str) else ",".join(media)


class ChannelHandle:
    def __init__(self, ari: Ari, channel_id: str, events: Subscription | None = None) -> None:
        self._ari = ari
        self.id = channel_id
        self.events = events

    def _path(self, suffix: str = "") -> str:
        return f"/channels/{self.id}{suffix}"

    async def get(self) -> Channel:
        return Channel.from_json(await self._ari.rest.request("GET", self._path()))

    async def answer(self) -> None:
        await self._ari.rest.request("POST", self._path("/answer"))

    async def hangup(self, reason: str = "normal") -> None:
        await self._ari.rest.request("DELETE", self._path(), params={"reason": reason})

    async def ring(self) -> None:
        await self._ari.rest.request("POST", self._path("/ring"))

    async def ring_stop(self) -> None:
        await self._ari.rest.request("DELETE", self._path("/ring"))

    async def progress(self) -> None:
        await self._ari.rest.request("POST", self._path("/progress"))

    async def play(
        self,
        media: str | Sequence[str],
        *,
        lang: str | None = None,
        playback_id: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
    ) -> PlaybackHandle:
        """Start a playback subscribed to its own events (await `.finished()`)."""
        pid = playback_id or new_id("pb-")
        sub = await staged(
            self._ari,
            playback_key(pid),
            self._path(f"/play/{pid}"),
            params={
                "media": _media_params(media),
                "lang": lang,
                "offsetms": offsetms,
                "skipms": skipms,
            },
        )
        return PlaybackHandle(self._ari, pid, sub)

    async def record(
        self,
        name: str | None = None,
        *,
        fmt: str = "wav",
        max_duration_seconds: int | None = None,
        max_silence_seconds: int | None = None,
        if_exists: str = "fail",
        beep: bool = False,
        terminate_on: str = "none",
    ) -> LiveRecordingHandle:
        rec_name = name or new_id("rec-")
        sub = await staged(
            self._ari,
            recording_key(rec_name),
            self._path("/record"),
            params={
                "name": rec_name,
                "format": fmt,
                "maxDurationSeconds": max_duration_seconds,
                "maxSilenceSeconds": max_silence_seconds,
                "ifExists": if_exists,
                "beep": beep,
                "terminateOn": terminate_on,
            },
        )
        return LiveRecordingHandle(self._ari, rec_name, sub)

    async def get_var(self, name: str) -> str:
        data = await self._ari.rest.request(
            "GET", self._path("/variable"), params={"variable": name}
        )
        return str(data.get("value", "")) if isinstance(data, dict) else ""

    async def set_var(self, name: str, value: str) -> None:
        await self._ari.rest.request(
            "POST", self._path("/variable"), params={"variable": name, "value": value}
        )

    async def continue_in_dialplan(
        self,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        await self._ari.rest.request(
            "POST",
            self._path("/continue"),
            params={
                "context": context,
                "extension": extension,
                "priority": priority,
                "label": label,
            },
        )

    async def redirect(self, endpoint: str) -> None:
        await self._ari.rest.request("POST", self._path("/redirect"), params={"endpoint": endpoint})

    async def dial(self, caller: str | None = None, timeout: int | None = None) -> None:
        """Dial a channel made with `Channels.create`."""
        await self._ari.rest.request(
            "POST", self._path("/dial"), params={"caller": caller, "timeout": timeout}
        )

    async def start_moh(self, moh_class: str | None = None) -> None:
        await self._ari.rest.request("POST", self._path("/moh"), params={"mohClass": moh_class})

    async def stop_moh(self) -> None:
        await self._ari.rest.request("DELETE", self._path("/moh"))

    async def send_dtmf(self, dtmf: str, between_ms: int | None = None) -> None:
        await self._ari.rest.request(
            "POST", self._path("/dtmf"), params={"dtmf": dtmf, "between": between_ms}
        )

    async def snoop(
        self,
        *,
        spy: str = "in",
        whisper: str = "none",
        app_args: str | None = None,
        snoop_id: str | None = None,
    ) -> ChannelHandle:
        sid = snoop_id or new_id("snoop-")
        sub = await staged(
            self._ari,
            channel_key(sid),
            self._path(f"/snoop/{sid}"),
            params={"spy": spy, "whisper": whisper, "app": self._ari.app, "appArgs": app_args},
        )
        return ChannelHandle(self._ari, sid, sub)


class BridgeHandle:
    def __init__(self, ari: Ari, bridge_id: str, events: Subscription | None = None) -> None:
        self._ari = ari
        self.id = bridge_id
        self.events = events

    def _path(self, suffix: str = "") -> str:
        return f"/bridges/{self.id}{suffix}"

    async def get(self) -> Bridge:
        return Bridge.from_json(await self._ari.rest.request("GET", self._path()))

    async def add(self, *channel_ids: str, role: str | None = None) -> None:
        await self._ari.rest.request(
            "POST",
            self._path("/addChannel"),
            params={"channel": ",".join(channel_ids), "role": role},
        )

    async def remove(self, *channel_ids: str) -> None:
        await self._ari.rest.request(
            "POST", self._path("/removeChannel"), params={"channel": ",".join(channel_ids)}
        )

    async def play(
        self,
        media: str | Sequence[str],
        *,
        lang: str | None = None,
        playback_id: str | None = None,
    ) -> PlaybackHandle:
        pid = playback_id or new_id("pb-")
        sub = await staged(
            self._ari,
            playback_key(pid),
            self._path(f"/play/{pid}"),
            params={"media": _media_params(media), "lang": lang},
        )
        return PlaybackHandle(self._ari, pid, sub)

    async def start_moh(self, moh_class: str | None = None) -> None:
        await self._ari.rest.request("POST", self._path("/moh"), params={"mohClass": moh_class})

    async def stop_moh(self) -> None:
        await self._ari.rest.request("DELETE", self._path("/moh"))

    async def destroy(self) -> None:
        await self._ari.rest.request("DELETE", self._path())


def _variables_body(variables: Mapping[str, str] | None) -> dict[str, dict[str, str]] | None:
    return {"variables": dict(variables)} if variables else None


__all__ = [
    "Ari",
    "BridgeHandle",
    "ChannelHandle",
    "LiveRecordingHandle",
    "PlaybackHandle",
    "bridge_key",
    "new_id",
]
