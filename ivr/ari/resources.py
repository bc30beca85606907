"""Collections of ARI resources: list, look up and create, returning typed handles."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ResourceGone
from .events import bridge_key, channel_key
from .handles import (
    Ari,
    BridgeHandle,
    ChannelHandle,
    _variables_body,
    new_id,
    staged,
    staged_reply,
)
from .models import Application, AsteriskInfo, Bridge, Channel, Endpoint, StoredRecording
from .router import Subscription


class Channels:
    def __init__(self, ari: Ari) -> None:
        self._ari = ari

    def handle(self, channel_id: str, *, subscribe: bool = False) -> ChannelHandle:
        sub = self._ari.router.subscribe(channel_key(channel_id)) if subscribe else None
        return ChannelHandle(self._ari, channel_id, sub)

    async def list(self) -> list[Channel]:
        data = await self._ari.rest.request("GET", "/channels")
        return [Channel.from_json(item) for item in data or []]

    async def originate(
        self,
        endpoint: str,
        *,
        app_args: str | None = None,
        caller_id: str | None = None,
        timeout: int | None = None,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        formats: str | None = None,
    ) -> ChannelHandle:
        """Dial `endpoint` straight into this application; subscribed before the POST."""
        cid = channel_id or new_id("ch-")
        sub = await staged(
            self._ari,
            channel_key(cid),
            f"/channels/{cid}",
            params={
                "endpoint": endpoint,
                "app": self._ari.app,
                "appArgs": app_args,
                "callerId": caller_id,
                "timeout": timeout,
                "otherChannelId": other_channel_id,
                "formats": formats,
            },
            body=_variables_body(variables),
        )
        return ChannelHandle(self._ari, cid, sub)

    async def create(
        self,
        endpoint: str,
        *,
        app_args: str | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        formats: str | None = None,
    ) -> ChannelHandle:
        """Create without dialing (then `handle.dial()`), e.g. to bridge before it rings."""
        cid = channel_id or new_id("ch-")
        sub = await staged(
            self._ari,
            channel_key(cid),
            "/channels/create",
            params={
                "endpoint": endpoint,
                "app": self._ari.app,
                "appArgs": app_args,
                "channelId": cid,
                "otherChannelId": other_channel_id,
                "formats": formats,
            },
            body=_variables_body(variables),
        )
        return ChannelHandle(self._ari, cid, sub)

    async def external_media(
        self,
        external_host: str,
        *,
        fmt: str = "slin16",
        encapsulation: str = "rtp",
        transport: str = "udp",
        direction: str = "both",
        data: str | None = None,
        channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> ExternalMediaHandle:
        """A channel whose media flows to/from `external_host` (host:port), e.g. a recognizer.

        `data` reaches the application as the StasisStart arguments, which lets an application
        that restarts recognise the channel as media plumbing rather than a caller.
        """
        cid = channel_id or new_id("em-")
        sub, reply = await staged_reply(
            self._ari,
            channel_key(cid),
            "/channels/externalMedia",
            params={
                "channelId": cid,
                "app": self._ari.app,
                "external_host": external_host,
                "format": fmt,
                "encapsulation": encapsulation,
                "transport": transport,
                "direction": direction,
                "data": data,
            },
            body=_variables_body(variables),
        )
        channel = Channel.from_json(reply) if isinstance(reply, dict) else Channel(id=cid)
        return ExternalMediaHandle(self._ari, cid, sub, channel)


class ExternalMediaHandle(ChannelHandle):
    """An externalMedia channel, with what Asterisk said about it when creating it."""

    def __init__(self, ari: Ari, channel_id: str, events: Subscription | None,
                 channel: Channel) -> None:
        super().__init__(ari, channel_id, events)
        self.channel = channel

    @property
    def local_address(self) -> tuple[str, int] | None:
        """Where Asterisk sends RTP from (UNICASTRTP_LOCAL_ADDRESS/PORT), when it said."""
        host = self.channel.channelvars.get("UNICASTRTP_LOCAL_ADDRESS", "")
        port = self.channel.channelvars.get("UNICASTRTP_LOCAL_PORT", "")
        return (host, int(port)) if host and port.isdigit() else None


class Bridges:
    def __init__(self, ari: Ari) -> None:
        self._ari = ari

    def handle(self, bridge_id: str) -> BridgeHandle:
        return BridgeHandle(self._ari, bridge_id)

    async def list(self) -> list[Bridge]:
        data = await self._ari.rest.request("GET", "/bridges")
        return [Bridge.from_json(item) for item in data or []]

    async def create(
        self,
        bridge_type: str = "mixing",
        *,
        name: str | None = None,
        bridge_id: str | None = None,
    ) -> BridgeHandle:
        """`bridge_type` is a comma list: mixing, holding, dtmf_events, proxy_media, video_sfu."""
        bid = bridge_id or new_id("br-")
        sub = await staged(
            self._ari,
            bridge_key(bid),
            f"/bridges/{bid}",
            params={"type": bridge_type, "name": name},
        )
        return BridgeHandle(self._ari, bid, sub)


class Recordings:
    """Stored recordings; live ones are reached through `ChannelHandle.record`."""

    def __init__(self, ari: Ari) -> None:
        self._ari = ari

    async def list_stored(self) -> list[StoredRecording]:
        data = await self._ari.rest.request("GET", "/recordings/stored")
        return [StoredRecording.from_json(item) for item in data or []]

    async def get_stored(self, name: str) -> StoredRecording:
        data = await self._ari.rest.request("GET", f"/recordings/stored/{name}")
        return StoredRecording.from_json(data)

    async def stored_file(self, name: str) -> bytes:
        return await self._ari.rest.request_bytes("GET", f"/recordings/stored/{name}/file")

    async def delete_stored(self, name: str) -> None:
        await self._ari.rest.request("DELETE", f"/recordings/stored/{name}")

    async def copy_stored(self, name: str, destination: str) -> StoredRecording:
        data = await self._ari.rest.request(
            "POST",
            f"/recordings/stored/{name}/copy",
            params={"destinationRecordingName": destination},
        )
        return StoredRecording.from_json(data)


class Endpoints:
    def __init__(self, ari: Ari) -> None:
        self._ari = ari

    async def list(self) -> list[Endpoint]:
        data = await self._ari.rest.request("GET", "/endpoints")
        return [Endpoint.from_json(item) for item in data or []]

    async def get(self, technology: str, resource: str) -> Endpoint:
        data = await self._ari.rest.request("GET", f"/endpoints/{technology}/{resource}")
        return Endpoint.from_json(data)


class System:
    """Asterisk itself and this application's registration."""

    def __init__(self, ari: Ari) -> None:
        self._ari = ari

    async def info(self) -> AsteriskInfo:
        return AsteriskInfo.from_json(await self._ari.rest.request("GET", "/asterisk/info"))

    async def application(self) -> Application:
        data = await self._ari.rest.request("GET", f"/applications/{self._ari.app}")
        return Application.from_json(data)

    async def get_global_var(self, name: str) -> str:
        data = await self._ari.rest.request("GET", "/asterisk/variable", params={"variable": name})
        return str(data.get("value", "")) if isinstance(data, dict) else ""

    async def module_running(self, name: str) -> bool:
        """Whether Asterisk has the module loaded and running (e.g. "func_talkdetect.so"):
        writing a dialplan function whose module is not loaded fails silently over ARI."""
        try:
            data = await self._ari.rest.request("GET", f"/asterisk/modules/{name}")
        except ResourceGone:
            return False
        return isinstance(data, dict) and str(data.get("status", "")).lower() == "running"
