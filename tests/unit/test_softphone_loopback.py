"""Real SIP on 127.0.0.1, softphone to softphone (no Asterisk): DTMF and audio both ways.

Each phone is its own process (pjsua2 allows one Endpoint per process), driven through the same
API the end-to-end tests use.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pjsua2  # noqa: F401  (a declared test dependency: fail loudly if it is missing)
import pytest

from ivr.testing.audio import HEARD_WHOLE, RATE, Signal, find_prompt, is_silent, save_wav
from ivr.testing.report import EXIT_NOT_CONNECTED, EXIT_OK, EXIT_SCRIPT_FAILED
from ivr.testing.softphone import place_call, place_call_subprocess, start_answerer


def _voice_like(seed: int, seconds: float) -> Signal:
    """Noise bursts with a syllable-rate envelope: a distinct 'prompt' per seed, no TTS needed."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.convolve(rng.normal(0, 0.25, n), np.ones(3) / 3, mode="same")
    envelope = np.repeat(rng.uniform(0.05, 1.0, n // 1200 + 1), 1200)[:n]
    return np.asarray(x * envelope, dtype=np.float64)


@pytest.fixture
def wavs(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, seed, seconds in [("greeting", 11, 2.0), ("caller", 12, 1.5), ("other", 13, 1.5)]:
        out[name] = tmp_path / f"{name}.wav"
        save_wav(out[name], _voice_like(seed, seconds))
    return out


async def test_call_dtmf_and_audio_both_ways(tmp_path: Path, wavs: dict[str, Path]) -> None:
    callee_heard, caller_heard = tmp_path / "callee-heard.wav", tmp_path / "caller-heard.wav"
    answerer = await start_answerer(
        f"play-bg {wavs['greeting']}; wait-hangup 20", record=callee_heard, timeout=20
    )
    try:
        caller = await place_call(
            answerer.uri,
            f"play {wavs['caller']}; dtmf 12#; wait 1.5",
            record=caller_heard,
            caller="5551234",
            timeout=10,
        )
        callee = await answerer.result()
    finally:
        await answerer.close()

    assert caller.ok and caller.exit_code == EXIT_OK, caller.error
    assert callee.ok and callee.exit_code == EXIT_OK, callee.error
    assert caller.caller_id == "5551234" and caller.dtmf_sent == "12#"
    incoming = callee.event("incoming")
    assert incoming is not None and "sip:5551234@127.0.0.1" in str(incoming.data["from"])
    assert caller.sip_call_id == callee.sip_call_id
    assert callee.dtmf_received == "12#"
    assert [e.data["digit"] for e in callee.events_of("dtmf-received")] == ["1", "2", "#"]
    assert caller.hangup_by == "local" and callee.hangup_by == "remote"
    assert [e.type for e in caller.events][:2] == ["calling", "early"]
    assert caller.connect_s is not None and caller.connect_s < 1.0
    assert caller.startup_s is not None and caller.startup_s < 5.0

    # Audio, caller -> callee: the caller's WAV, whole, before the digits.
    assert callee.recording_s is not None and callee.recording_s > 3.0
    assert not is_silent(callee_heard)
    heard_by_callee = find_prompt(callee_heard, wavs["caller"])
    assert len(heard_by_callee) == 1 and heard_by_callee[0].offset_s < 0.2
    # Audio, callee -> caller: the greeting from the start of the call; never "other".
    heard_by_caller = find_prompt(caller_heard, wavs["greeting"])
    assert len(heard_by_caller) == 1 and heard_by_caller[0].offset_s < 0.2
    # Whole, and on time but for the phone's jitter buffer: under CI's load it has inserted a
    # 20 ms frame inside the greeting (0.42 s in, kept recording: score 0.926, 20 ms late).
    assert heard_by_caller[0].score >= HEARD_WHOLE and heard_by_caller[0].stalled_s <= 0.04
    assert find_prompt(caller_heard, wavs["other"]) == []


async def test_remote_hangup_before_dtmf_fails_the_script(tmp_path: Path) -> None:
    answerer = await start_answerer("wait 0.3; hangup", timeout=20)
    try:
        caller = await place_call(answerer.uri, "wait 3; dtmf 1", timeout=10)
        callee = await answerer.result()
    finally:
        await answerer.close()
    assert callee.ok and callee.hangup_by == "local"
    assert caller.connected and not caller.ok
    assert caller.exit_code == EXIT_SCRIPT_FAILED
    assert caller.error == "remote hung up before `dtmf 1`"
    assert caller.hangup_by == "remote"
    disconnected = caller.event("disconnected")
    assert disconnected is not None and 0.2 < disconnected.t < 2.0


async def test_rejected_call_reports_the_sip_status() -> None:
    answerer = await start_answerer(reject=486, answer_after=0.3, timeout=10)
    try:
        caller = await place_call(answerer.uri, "dtmf 1", timeout=5)
        callee = await answerer.result()
    finally:
        await answerer.close()
    assert callee.ok and not callee.connected and callee.status_code == 486
    assert caller.exit_code == EXIT_NOT_CONNECTED and not caller.connected
    assert (caller.status_code, caller.hangup_by) == (486, "remote")
    assert caller.error == "call failed: 486 Busy Here"
    early, gone = caller.event("early"), caller.event("disconnected")
    assert early is not None and gone is not None and 0.25 < gone.t - early.t < 1.0


async def test_answer_after_rings_first() -> None:
    answerer = await start_answerer(answer_after=1.0, timeout=10)
    try:
        caller = await place_call(answerer.uri, "wait 0.2", timeout=5)
        await answerer.result()
    finally:
        await answerer.close()
    assert caller.ok and caller.connect_s is not None and 0.95 < caller.connect_s < 1.5


def test_nobody_listening_is_not_connected() -> None:
    report = place_call_subprocess("sip:100@127.0.0.1:9", "dtmf 1", timeout=1.5)
    assert not report.connected and report.exit_code == EXIT_NOT_CONNECTED
    assert report.error == "no response within 1.5 s"


async def test_answerer_without_a_call_times_out() -> None:
    answerer = await start_answerer(timeout=0.5)
    report = await answerer.result()
    assert report.exit_code == EXIT_NOT_CONNECTED
    assert report.error == "no incoming call within 0.5 s"


async def test_parallel_calls(tmp_path: Path, wavs: dict[str, Path]) -> None:
    """Several phone pairs at once: separate processes, ephemeral SIP ports, random RTP bases."""
    pairs = 4
    answerers = [
        await start_answerer(f"play-bg {wavs['greeting']}; wait-hangup 20", timeout=20)
        for _ in range(pairs)
    ]
    try:
        calls = await asyncio.gather(
            *[
                place_call(
                    a.uri,
                    f"wait 0.5; dtmf {i}; wait 2.5",
                    record=tmp_path / f"h{i}.wav",
                    caller=f"555000{i}",
                    timeout=10,
                )
                for i, a in enumerate(answerers)
            ]
        )
        callees = await asyncio.gather(*[a.result() for a in answerers])
    finally:
        for a in answerers:
            await a.close()
    for i, (call, callee) in enumerate(zip(calls, callees, strict=True)):
        assert call.ok and callee.ok, (call.error, callee.error)
        assert callee.dtmf_received == str(i)
        assert find_prompt(tmp_path / f"h{i}.wav", wavs["greeting"]), f"pair {i} heard nothing"


class _Registrar:
    """A UDP registrar that demands MD5 digest auth (RFC 2617, no qop): just enough of one."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password, self.realm, self.nonce = user, password, "ivr", "n0nce"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[str] = []  # Expires value of each authorized REGISTER
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.sock.sendto(self._respond(data.decode().replace("\r\n", "\n")).encode(), addr)

    def _respond(self, msg: str) -> str:
        lines = msg.split("\n")
        keep = [
            x for x in lines if x.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")
        ]
        auth = re.search(r"^Authorization: Digest (.*)$", msg, re.M | re.I)
        if auth is None:
            challenge = f'WWW-Authenticate: Digest realm="{self.realm}", nonce="{self.nonce}"'
            return "\r\n".join(
                ["SIP/2.0 401 Unauthorized", *keep, challenge, "Content-Length: 0", "", ""]
            )
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', auth.group(1)))
        ha1 = _md5(f"{self.user}:{self.realm}:{self.password}")
        expected = _md5(f"{ha1}:{self.nonce}:{_md5('REGISTER:' + fields.get('uri', ''))}")
        if fields.get("response") != expected:
            return "\r\n".join(["SIP/2.0 403 Forbidden", *keep, "Content-Length: 0", "", ""])
        expires = re.search(r"^Expires: *(\d+)", msg, re.M | re.I)
        contact = re.search(r"^Contact: *(.*)$", msg, re.M | re.I)
        assert expires is not None and contact is not None
        self.accepted.append(expires.group(1))
        return "\r\n".join(
            [
                "SIP/2.0 200 OK",
                *keep,
                f"Contact: {contact.group(1)};expires={expires.group(1)}",
                "Content-Length: 0",
                "",
                "",
            ]
        )

    def close(self) -> None:
        self.stopping = True
        self.thread.join()
        self.sock.close()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def test_agent_phone_registers_answers_and_unregisters() -> None:
    registrar = _Registrar("agent1001", "secret")
    try:
        agent = await start_answerer(
            timeout=10,
            register="sip:agent1001@127.0.0.1",
            registrar=f"sip:127.0.0.1:{registrar.port}",
            password="secret",
        )
        try:
            caller = await place_call(agent.uri, "wait 0.3; dtmf 9; wait 0.5", timeout=5)
            callee = await agent.result()
        finally:
            await agent.close()
        bad = await place_call(
            None,
            "",
            timeout=3,
            answer=True,
            register="sip:agent1001@127.0.0.1",
            registrar=f"sip:127.0.0.1:{registrar.port}",
            password="wrong",
        )
    finally:
        registrar.close()
    assert agent.uri.startswith("sip:agent1001@127.0.0.1:")
    assert caller.ok and callee.ok, (caller.error, callee.error)
    assert callee.event("registered") is not None and callee.dtmf_received == "9"
    assert registrar.accepted == ["300", "0"]  # registered, then unregistered at the end
    assert bad.exit_code == EXIT_NOT_CONNECTED and bad.error == "registration failed: SIP 403"
