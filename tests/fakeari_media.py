"""The fake ARI plus what a listener uses: externalMedia, snoop, destroying bridges, and RTP.

As in Asterisk: externalMedia and snoop channels enter the application (StasisStart, with the
`data` / `appArgs` as arguments) after the HTTP reply; the externalMedia reply carries
UNICASTRTP_LOCAL_ADDRESS/PORT; a snoop dies with the channel it spies on; a bridge destroyed
empty says BridgeDestroyed (one destroyed with channels in says nothing). `send_rtp` makes an
externalMedia channel send RTP, from the port its reply announced, to the external_host it was
given.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from aiohttp import web

from ivr.media.rtp import SLIN16_PAYLOAD_TYPE, build_rtp
from tests.fakeari import FakeAri, FakeChannel, Handler, _error


@dataclass
class FakeMedia:
    channel_id: str
    external_host: tuple[str, int]
    format: str
    sock: socket.socket
    sequence: int = 1000
    timestamp: int = 0
    ssrc: int = 0x5EED

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])


class MediaFakeAri(FakeAri):
    def __init__(self, *, password: str = "secret") -> None:
        super().__init__(password=password)
        self.media: dict[str, FakeMedia] = {}
        self.snoops: dict[str, str] = {}  # snoop channel id -> the channel it spies on
        self.quiet_bridge_destroy = False
        """Never send BridgeDestroyed (as when our channels had not left yet)."""
        self.talk_detect: set[str] = set()
        """Channels with TALK_DETECT set (a function written through the variable route)."""
        self.variables: list[tuple[str, str, str]] = []
        """(channel, variable, value) of every variable written, in order."""
        self.modules: set[str] = {"func_talkdetect.so"}
        """Modules loaded and running (GET /asterisk/modules/{name})."""

    def extra_routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/channels/externalMedia", self._external_media),
            ("POST", "/channels/{id}/snoop/{sid}", self._snoop),
            ("DELETE", "/bridges/{id}", self._destroy_bridge),
            ("POST", "/channels/{id}/variable", self._set_variable),
            ("GET", "/asterisk/modules/{name}", self._module),
        ]

    async def close(self) -> None:
        await super().close()
        for media in self.media.values():
            media.sock.close()
        self.media.clear()

    def send_rtp(self, channel_id: str, payload: bytes, *, payload_type: int =
                 SLIN16_PAYLOAD_TYPE, sequence: int | None = None) -> None:
        """One packet (payload as given: big-endian for slin16) to the external host."""
        media = self.media[channel_id]
        seq = media.sequence if sequence is None else sequence
        media.sock.sendto(build_rtp(payload, sequence=seq, timestamp=media.timestamp,
                                    ssrc=media.ssrc, payload_type=payload_type),
                          media.external_host)
        media.sequence = seq + 1
        media.timestamp += len(payload) // 2

    async def talk(self, channel_id: str) -> None:
        """The caller's first loud frame: ChannelTalkingStarted, as TALK_DETECT raises it."""
        assert channel_id in self.talk_detect, f"no TALK_DETECT on {channel_id}"
        await self.emit("ChannelTalkingStarted",
                        channel=self.channels[channel_id].to_json(self.app))

    def bridged_with(self, channel_id: str) -> list[str]:
        return [b for b, members in self.bridges.items() if channel_id in members]

    async def _destroy(self, channel: FakeChannel) -> None:
        await super()._destroy(channel)
        for members in self.bridges.values():
            while channel.id in members:
                members.remove(channel.id)
        if (media := self.media.pop(channel.id, None)) is not None:
            media.sock.close()
        self.snoops.pop(channel.id, None)
        self.talk_detect.discard(channel.id)
        for snoop_id, target in list(self.snoops.items()):
            if target == channel.id and snoop_id in self.channels:  # the spied channel went
                await self._destroy(self.channels[snoop_id])

    async def _external_media(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        host, _, port = query.get("external_host", "").rpartition(":")
        if not query.get("app") or not query.get("format") or not host or not port.isdigit():
            return _error(400, "app, format and external_host are required")
        channel_id = query.get("channelId") or f"em-{len(self.media)}"
        if channel_id in self.channels:
            return _error(409, "Channel with given unique ID already exists")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        media = FakeMedia(channel_id, (host, int(port)), query["format"], sock)
        self.media[channel_id] = media
        channel = self.add_channel(channel_id, in_stasis=False, caller_number="")
        reply = {**channel.to_json(self.app), "name": f"UnicastRTP/{host}:{port}-{channel_id}",
                 "channelvars": {"UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1",
                                 "UNICASTRTP_LOCAL_PORT": str(media.local_port)}}
        args = [query["data"]] if query.get("data") else []
        return await self._reply(request, web.json_response(reply),
                                 self.emit_stasis_start(channel, *args))

    async def _module(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.modules:
            return _error(404, "Module could not be found in running modules")
        return web.json_response({"name": name, "description": "", "use_count": 0,
                                  "status": "Running", "support_level": "core"})

    async def _set_variable(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request, stasis=True)
        name, value = request.query.get("variable", ""), request.query.get("value", "")
        if not name:
            return _error(400, "Variable name is required")
        if name == "TALK_DETECT(set)" and "func_talkdetect.so" in self.modules:
            self.talk_detect.add(channel.id)
        elif name == "TALK_DETECT(remove)" and "func_talkdetect.so" in self.modules:
            if channel.id not in self.talk_detect:  # Asterisk logs a warning and fails
                return _error(400, "Failed to execute function")
            self.talk_detect.discard(channel.id)
        self.variables.append((channel.id, name, value))
        return web.Response(status=204)

    async def _snoop(self, request: web.Request) -> web.StreamResponse:
        target = self._channel(request, stasis=False)
        query, snoop_id = request.query, request.match_info["sid"]
        if query.get("spy", "none") == "none" and query.get("whisper", "none") == "none":
            return _error(400, "Invalid parameters")
        channel = self.add_channel(snoop_id, in_stasis=False, caller_number="")
        self.snoops[snoop_id] = target.id
        args = [query["appArgs"]] if query.get("appArgs") else []
        return await self._reply(request, web.json_response(channel.to_json(self.app)),
                                 self.emit_stasis_start(channel, *args))

    async def _destroy_bridge(self, request: web.Request) -> web.StreamResponse:
        bridge_id = request.match_info["id"]
        if bridge_id not in self.bridges:
            return _error(404, "Bridge not found")
        members = self.bridges.pop(bridge_id)
        if members or self.quiet_bridge_destroy:
            # Asterisk 22: an application hears of a bridge only while its channels are in
            # it, so one destroyed with channels still in says nothing (checked on 22.10.1).
            return web.Response(status=204)
        return await self._reply(request, web.Response(status=204), self.emit(
            "BridgeDestroyed", bridge={"id": bridge_id, "technology": "simple_bridge",
                                       "bridge_type": "mixing", "channels": []}))

