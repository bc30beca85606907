"""pjsua2 Endpoint and Account configuration for the softphone (untyped pjsua2 stays here).

The choices, and why:
- ``threadCnt=0`` + ``mainThreadOnly`` + media ``hasIoqueue=False``: SIP and RTP are polled by
  our own ``libHandleEvents`` loop on the main thread, so every Python callback runs there.
- Null sound device, 8 kHz mono conference bridge: recordings come out 8 kHz mono 16-bit.
- Only PCMU (then PCMA) offered, with telephone-event: what Asterisk trunks use, no transcoding.
- Everything bound to the given address (127.0.0.1), SIP on an ephemeral or chosen port, RTP
  from a random even base so many softphone processes can run side by side, in a range of its
  own (ports.py: never one a load run's SIPp callers advertise).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

from ivr.testing.phonespec import PhoneSpec
from ivr.testing.ports import SOFTPHONE_TRIES, softphone_bases


class _StderrLog(pj.LogWriter):  # type: ignore[misc]
    """pjsip logs go to stderr so stdout stays clean for ``--json``."""

    def write(self, entry: Any) -> None:
        sys.stderr.write(str(entry.msg))


@contextlib.contextmanager
def _stdout_to(fd: int | None) -> Iterator[None]:
    """Point fd 1 at ``fd`` (None: /dev/null) for a while.

    pjlib prints its start-up lines to stdout inside ``libCreate``, before any log
    configuration can apply; they would corrupt ``--json`` output.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.open(os.devnull, os.O_WRONLY) if fd is None else os.dup(fd)
    try:
        os.dup2(target, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


def describe(exc: Exception) -> str:
    """A one-line message for a pjsua2 ``Error`` (its str() is a SWIG proxy repr)."""
    if isinstance(exc, pj.Error):
        return f"{exc.title}: {exc.reason}"
    return str(exc)


@dataclass
class Endpoint:
    """The started library: the pjsua2 Endpoint, its UDP transport and the port it got."""

    ep: Any
    transport_id: int
    sip_port: int
    log_writer: Any  # must outlive the Endpoint


def start_endpoint(spec: PhoneSpec) -> Endpoint:
    """Create, configure and start the one Endpoint of this process."""
    ep = pj.Endpoint()
    with _stdout_to(2 if spec.verbose else None):
        ep.libCreate()
    try:
        return _configure(ep, spec)
    except BaseException:
        ep.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)  # release what was started, no 1 s wait
        raise


def _configure(ep: Any, spec: PhoneSpec) -> Endpoint:
    """libInit + transport + libStart + null audio + codec priorities."""
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = 4
    cfg.uaConfig.userAgent = "ivr-softphone"
    cfg.logConfig.level = 5 if spec.verbose else 0
    cfg.logConfig.consoleLevel = 4 if spec.verbose else 0
    writer = _StderrLog() if spec.verbose else None
    if writer is not None:
        cfg.logConfig.writer = writer
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.channelCount = 1
    cfg.medConfig.hasIoqueue = False
    cfg.medConfig.noVad = True  # keep sending (and so recording) silence as audio
    cfg.medConfig.ecTailLen = 0  # no echo canceller between a WAV and a recorder
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = spec.port
    tcfg.boundAddress = spec.bind
    tcfg.publicAddress = spec.bind
    tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, 0)
    ep.codecSetPriority("PCMU/8000", 255)
    ep.codecSetPriority("PCMA/8000", 254)
    port = int(str(ep.transportGetInfo(tid).localName).rsplit(":", 1)[1])
    return Endpoint(ep, tid, port, writer)


@dataclass
class Identity:
    """Who we are on the wire: the From/AOR URI and its user part."""

    uri: str
    user: str


def account_config(spec: PhoneSpec, transport_id: int) -> tuple[Any, Identity]:
    """AccountConfig for a registered agent phone, or an unregistered trunk-style caller."""
    acfg = pj.AccountConfig()
    if spec.register:
        aor = spec.register if spec.register.startswith("sip:") else f"sip:{spec.register}"
        user, host = aor[4:].split("@", 1)
        acfg.idUri = aor
        acfg.regConfig.registrarUri = spec.registrar or f"sip:{host}"
        acfg.regConfig.timeoutSec = 300
        cred = pj.AuthCredInfo("digest", "*", spec.username or user, 0, spec.password or "")
        acfg.sipConfig.authCreds.append(cred)
    else:
        user = spec.caller or "softphone"
        name = (spec.caller_name or "").replace('"', "").replace("\\", "")
        acfg.idUri = f'"{name}" <sip:{user}@{spec.bind}>' if name else f"sip:{user}@{spec.bind}"
        acfg.regConfig.registerOnAdd = False
    acfg.sipConfig.transportId = transport_id
    nat = acfg.natConfig
    nat.contactRewriteUse = nat.viaRewriteUse = nat.sdpNatRewriteUse = nat.sipOutboundUse = 0
    rtp = acfg.mediaConfig.transportConfig
    rtp.boundAddress = spec.bind
    rtp.publicAddress = spec.bind
    rtp.port = random.choice(softphone_bases())  # parallel processes rarely collide...
    rtp.portRange = SOFTPHONE_TRIES  # ...and pjsua moves on to the next ports when they do
    return acfg, Identity(str(acfg.idUri), user)
