"""Our asyncio ARI client: typed events and resources over aiohttp. Knows nothing of flows."""

from .client import AriClient, AriConfig
from .errors import (
    AriConnectionError,
    AriError,
    AriHttpError,
    BadRequest,
    NotInStasis,
    ResourceGone,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)
from .events import (
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Event,
    PlaybackFinished,
    PlaybackStarted,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    channel_key,
    parse_event,
)
from .handles import BridgeHandle, ChannelHandle, LiveRecordingHandle, PlaybackHandle, new_id
from .resources import ExternalMediaHandle
from .router import EventRouter, Subscription, SubscriptionClosed

__all__ = [
    "AriClient",
    "AriConfig",
    "AriConnectionError",
    "AriError",
    "AriHttpError",
    "BadRequest",
    "BridgeHandle",
    "ChannelDestroyed",
    "ChannelDtmfReceived",
    "ChannelHandle",
    "ChannelHangupRequest",
    "Event",
    "EventRouter",
    "ExternalMediaHandle",
    "LiveRecordingHandle",
    "NotInStasis",
    "PlaybackFinished",
    "PlaybackHandle",
    "PlaybackStarted",
    "ResourceGone",
    "ServerError",
    "ServiceUnavailable",
    "StasisEnd",
    "StasisStart",
    "Subscription",
    "SubscriptionClosed",
    "Unauthorized",
    "UnknownEvent",
    "Unprocessable",
    "channel_key",
    "new_id",
    "parse_event",
]
