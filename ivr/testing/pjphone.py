"""The pjsua2 engine behind the softphone: one Endpoint, one call, one process.

Everything runs on the thread that created the Endpoint: ``threadCnt=0`` and ``mainThreadOnly``
for SIP, and ``hasIoqueue=False`` so RTP (and so DTMF callbacks) is also polled by our own
``libHandleEvents`` loop. The only other thread is pjmedia's clock for the null sound device,
which never calls into Python (we do not use the player's end-of-file callback for that reason;
the WAV's length tells us when it ends). Untyped pjsua2 calls live only here and in
``ivr.testing.pjsetup`` (configuration).
"""

from __future__ import annotations

import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pjsua2 as pj

from ivr.testing.phonespec import PhoneSpec
from ivr.testing.pjsetup import Endpoint, account_config, describe, start_endpoint
from ivr.testing.report import (
    EXIT_INTERNAL,
    EXIT_NOT_CONNECTED,
    EXIT_OK,
    EXIT_SCRIPT_FAILED,
    CallReport,
    Event,
    EventValue,
)
from ivr.testing.script import Dtmf, Hangup, Play, Step, Wait, WaitHangup

POLL_MS = 5
DTMF_MS = 160
MEDIA_WAIT_S = 5.0
HANGUP_WAIT_S = 5.0


class StepFailed(Exception):
    """A script step could not run (the call is gone, a wait timed out, a file is missing)."""


class _Call(pj.Call):  # type: ignore[misc]
    """Forwards pjsua2 call callbacks to the phone (subclassing is how pjsua2 delivers them)."""

    def __init__(self, phone: _Phone, account: Any, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.phone = phone

    def onCallState(self, prm: Any) -> None:
        self.phone.on_call_state(self)

    def onCallMediaState(self, prm: Any) -> None:
        self.phone.on_media_state(self)

    def onDtmfDigit(self, prm: Any) -> None:
        self.phone.add("dtmf-received", digit=str(prm.digit))
        self.phone.report.dtmf_received += str(prm.digit)


class _Account(pj.Account):  # type: ignore[misc]
    """Forwards incoming calls and registration results to the phone."""

    def __init__(self, phone: _Phone) -> None:
        super().__init__()
        self.phone = phone

    def onIncomingCall(self, prm: Any) -> None:
        self.phone.on_incoming(self, int(prm.callId))

    def onRegState(self, prm: Any) -> None:
        self.phone.reg_code = int(prm.code)
        self.phone.reg_updates += 1


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


class _Phone:
    """One softphone run: sets up pjsua2, places or answers one call, runs the script."""

    def __init__(self, spec: PhoneSpec) -> None:
        self.spec = spec
        self.report = CallReport(role="callee" if spec.answer else "caller", target=spec.target)
        self.t0 = time.monotonic()
        self.endpoint: Endpoint | None = None
        self.account: _Account | None = None
        self.call: _Call | None = None
        self.extra_calls: list[_Call] = []  # rejected while busy; kept alive until teardown
        self.recorder: Any = None
        self.players: list[Any] = []
        self.call_media: Any = None
        self.reg_code = 0
        self.reg_updates = 0
        self.confirmed = False
        self.media_active = False
        self.disconnected = False
        self.local_hangup = False
        self.answered = False
        self.record_error: str | None = None

    # ----- events and polling
    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, type_: str, **data: EventValue) -> None:
        self.report.events.append(Event(self.now(), type_, dict(data)))
        if self.spec.verbose:
            print(f"[softphone] {self.now():7.3f} {type_} {data}", file=sys.stderr)

    def pump(self, until: Callable[[], bool], seconds: float) -> bool:
        """Handle pjsua2 events until ``until()`` or ``seconds`` pass; returns ``until()``."""
        deadline = time.monotonic() + seconds
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            assert self.endpoint is not None
            self.endpoint.ep.libHandleEvents(max(1, min(POLL_MS, int(left * 1000))))
        return True

    # ----- pjsua2 setup
    def start(self) -> None:
        self.endpoint = start_endpoint(self.spec)
        self.report.local_sip_port = self.endpoint.sip_port
        acfg, me = account_config(self.spec, self.endpoint.transport_id)
        self.report.local_uri, self.report.caller_id = me.uri, me.user
        self.account = _Account(self)
        self.account.create(acfg, True)

    # ----- callbacks (all on our thread)
    def on_call_state(self, call: _Call) -> None:
        info = call.getInfo()
        if call is not self.call:
            return
        self.report.sip_call_id = str(info.callIdString)
        state = info.state
        if state == pj.PJSIP_INV_STATE_EARLY:
            self.add("early", code=int(info.lastStatusCode))
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = self.report.connected = True
            self.report.connect_s = self.now()
            self.add("confirmed")
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.disconnected:
            self.disconnected = True
            by = "local" if self.local_hangup else "remote"
            self.report.status_code = int(info.lastStatusCode)
            self.report.reason = str(info.lastReason)
            self.report.hangup_by = by
            self.report.duration_s = self.now()
            if self.report.connect_s is not None:
                self.report.talk_s = self.now() - self.report.connect_s
            self.add("disconnected", code=self.report.status_code, reason=self.report.reason, by=by)
            self._stop_media()

    def on_media_state(self, call: _Call) -> None:
        if call is not self.call or self.disconnected:
            return
        info = call.getInfo()  # keep a reference: info.media dangles otherwise
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and (media.status == pj.PJSUA_CALL_MEDIA_ACTIVE):
                self._connect_media(call.getAudioMedia(index))
                return

    def _connect_media(self, aud: Any) -> None:
        self.call_media = aud
        if self.spec.record is not None and self.recorder is None and not self.record_error:
            try:  # an exception would vanish inside the pjsua2 callback: report it instead
                recorder = pj.AudioMediaRecorder()
                recorder.createRecorder(str(self.spec.record))
            except pj.Error as exc:
                self.record_error = f"cannot record to {self.spec.record}: {exc.reason}"
            else:
                self.recorder = recorder
                self.report.recording = str(self.spec.record)
        if self.recorder is not None:
            aud.startTransmit(self.recorder)
        for player in self.players:
            player.startTransmit(aud)
        if not self.media_active:
            self.media_active = True
            self.add("media-active")

    def on_incoming(self, account: _Account, call_id: int) -> None:
        call = _Call(self, account, call_id)
        prm = pj.CallOpParam()
        if self.call is not None or not self.spec.answer:
            prm.statusCode = 486
            call.answer(prm)
            self.extra_calls.append(call)
            return
        self.call = call
        info = call.getInfo()
        self.report.sip_call_id = str(info.callIdString)
        self.add("incoming", **{"from": str(info.remoteUri), "to": str(info.localUri)})

    def _stop_media(self) -> None:
        self.recorder = None  # destroying the recorder finalizes the WAV header
        self.players.clear()
        self.call_media = None

    # ----- the call
    def connect(self) -> bool:
        """Dial, or wait for a call and answer it; False if we rejected it as asked.

        Raises StepFailed when the call did not get connected.
        """
        spec = self.spec
        self.report.setup_s = time.monotonic() - self.t0
        self.t0 = time.monotonic()  # events are relative to (registering and) dial / listening
        self.report.t0_monotonic = self.t0
        if spec.register:
            if not self.pump(lambda: self.reg_code != 0, spec.timeout):
                raise StepFailed(f"no answer to REGISTER within {spec.timeout:g} s")
            self.add("registered", code=self.reg_code)
            if self.reg_code // 100 != 2:
                raise StepFailed(f"registration failed: SIP {self.reg_code}")
        if spec.answer:
            if not self._answer():
                return False
        else:
            self._dial()
        if not self.pump(lambda: self.confirmed or self.disconnected, spec.timeout):
            early = self.report.event("early") is not None
            self.hangup()
            what = "not answered" if early else "no response"
            raise StepFailed(f"{what} within {spec.timeout:g} s")
        if self.disconnected:
            raise StepFailed(f"call failed: {self.report.status_code} {self.report.reason}")
        self.pump(lambda: self.media_active or self.disconnected, MEDIA_WAIT_S)
        return True

    def _dial(self) -> None:
        assert self.spec.target is not None
        call = _Call(self, self.account)
        self.add("calling", uri=self.spec.target)
        try:
            call.makeCall(self.spec.target, pj.CallOpParam(True))
        except pj.Error as exc:  # bad URI, unreachable host: no call exists to hang up
            raise StepFailed(f"cannot dial {self.spec.target}: {exc.reason}") from None
        self.call = call

    def _answer(self) -> bool:
        uri = f"sip:{self.report.caller_id}@{self.spec.bind}:{self.report.local_sip_port}"
        self.add("listening", uri=uri)
        if self.spec.ready_file is not None:
            tmp = self.spec.ready_file.with_name(self.spec.ready_file.name + ".tmp")
            tmp.write_text(uri + "\n")
            tmp.replace(self.spec.ready_file)
        if not self.pump(lambda: self.call is not None, self.spec.timeout):
            raise StepFailed(f"no incoming call within {self.spec.timeout:g} s")
        call = self.call
        assert call is not None
        self._respond(call, 180)
        if self.pump(lambda: self.disconnected, self.spec.answer_after):
            raise StepFailed("caller hung up while ringing")
        if self.spec.reject:
            self.local_hangup = True
            self._respond(call, self.spec.reject)
            self.pump(lambda: self.disconnected, HANGUP_WAIT_S)
            return False
        self._respond(call, 200)
        self.answered = True
        return True

    def _respond(self, call: _Call, code: int) -> None:
        prm = pj.CallOpParam()
        prm.statusCode = code
        call.answer(prm)

    def hangup(self) -> None:
        # pjsua asserts (aborts the process) on hangup of a call that has no id.
        if self.call is None or self.disconnected or self.call.getId() < 0:
            return
        self.local_hangup = True
        self.add("hangup-sent")
        prm = pj.CallOpParam()
        prm.statusCode = 603 if (self.spec.answer and not self.answered) else 0
        self.call.hangup(prm)
        self.pump(lambda: self.disconnected, HANGUP_WAIT_S)

    # ----- script steps
    def run_step(self, step: Step) -> None:
        if isinstance(step, Wait):
            self.pump(lambda: self.disconnected, step.seconds)
        elif isinstance(step, WaitHangup):
            if not self.pump(lambda: self.disconnected, step.timeout):
                raise StepFailed(f"remote did not hang up within {step.timeout:g} s")
        elif isinstance(step, Hangup):
            self.hangup()
        elif isinstance(step, Dtmf):
            for digit in step.digits:
                self._require_media(f"dtmf {digit}")
                prm = pj.CallSendDtmfParam()
                prm.method = pj.PJSUA_DTMF_METHOD_RFC2833
                prm.digits = digit
                prm.duration = DTMF_MS
                assert self.call is not None
                self.call.sendDtmf(prm)
                self.add("dtmf-sent", digit=digit)
                self.report.dtmf_sent += digit
                self.pump(lambda: self.disconnected, DTMF_MS / 1000 + step.gap)
        elif isinstance(step, Play):
            self._play(step)

    def _require_media(self, what: str) -> None:
        if self.disconnected:
            raise StepFailed(f"remote hung up before `{what}`")
        if not self.media_active:
            raise StepFailed(f"no media for `{what}`")

    def _play(self, step: Play) -> None:
        if not step.path.is_file():
            raise StepFailed(f"play: no such file {step.path}")
        self._require_media(f"play {step.path}")
        seconds = _wav_seconds(step.path)
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(step.path), pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(self.call_media)
        self.players.append(player)
        self.add("play-started", file=str(step.path), seconds=round(seconds, 3))
        if step.background:
            return
        self.pump(lambda: self.disconnected, seconds + 0.04)
        if player in self.players:
            self.players.remove(player)
            self.add("play-finished", file=str(step.path))

    def teardown(self) -> None:
        """Release pjsua2 objects in dependency order, then the library."""
        self._stop_media()
        if self.account is not None and self.spec.register and self.reg_code // 100 == 2:
            before = self.reg_updates
            try:
                self.account.setRegistration(False)
                self.pump(lambda: self.reg_updates > before, 2.0)
            except pj.Error:
                pass
        self.call = None
        self.extra_calls.clear()
        self.account = None
        if self.endpoint is not None:
            # NO_RX_MSG: calls and registrations are already ended; without it pjsua sleeps 1 s.
            self.endpoint.ep.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)
            self.endpoint = None


def _finish_recording(report: CallReport) -> None:
    if report.recording and Path(report.recording).is_file():
        try:
            report.recording_s = round(_wav_seconds(Path(report.recording)), 3)
        except (wave.Error, EOFError):
            report.recording_s = 0.0


def run_phone(spec: PhoneSpec) -> CallReport:
    """Run one softphone call in this process and return its report (errors are in the report)."""
    phone = _Phone(spec)
    report = phone.report
    stage = "start"
    try:
        phone.start()
        stage = "connect"
        if phone.connect():
            stage = "script"
            for step in spec.steps:
                phone.run_step(step)
            phone.hangup()
            if phone.record_error:
                raise StepFailed(phone.record_error)
        report.ok, report.exit_code = True, EXIT_OK
    except (StepFailed, pj.Error) as exc:
        report.error = describe(exc)
        if stage == "start":
            report.error = f"SIP stack failed to start: {report.error}"
        report.exit_code = {"start": EXIT_INTERNAL, "connect": EXIT_NOT_CONNECTED}.get(
            stage, EXIT_SCRIPT_FAILED
        )
        phone.add("error", message=report.error)
        try:
            phone.hangup()
        except pj.Error:
            pass
    finally:
        phone.teardown()
    _finish_recording(report)
    return report
