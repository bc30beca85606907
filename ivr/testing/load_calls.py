"""Each call of a load run, judged from the packet capture alone.

The capture is the one clock every side shares: SIP says when a call was answered and who hung
up, the generator's RFC 4733 end packets say when a key ended, and Asterisk's PCMU packets
say when audio started. The latencies per call:

- answer -> first audio: the 200 OK to the first loud packet from Asterisk;
- key -> next prompt, per press step of the caller's script (a step's last key, as in a PIN):
  the key's first end packet to the first loud packet after it, before the caller's next key.
  When audio was still playing as the key ended (the caller barged in), the onset must follow a
  gap, or the tail of the old prompt would count as the new one. A press the script expects no
  prompt after (the caller hangs up, or presses on) is not measured.

A call fails for the first of these reasons: rejected (a final response other than 200),
no answer, no audio after answer, no prompt after a key, the caller had to hang up (the IVR
did not within the caller's patience), unfinished when the capture ended, keys not sent, or the
IVR hung up where the caller was to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .load_pcap import PCMU, Datagram, event_end, parse_rtp, parse_sip, quiet_codes
from .load_sipp import CallerScript

GAP = 0.045
"""Seconds without a packet (Asterisk sends one every 20 ms while playing) that end a prompt."""
LOUD_THRESHOLD = 300
LOUD_SAMPLES = 8
_QUIET = quiet_codes(LOUD_THRESHOLD)

ANSWER_STEP = "answer->audio"
KEY_STEP = "key->prompt"
"""Every measured press of the run together (the per-step figures are named after the step)."""


def step_name(press_name: str) -> str:
    return f"{press_name} ->prompt"


@dataclass(frozen=True)
class Expected:
    """What a call of the run is to do, as the judge needs it."""

    presses: tuple[tuple[str, int, bool], ...] = (("key 1", 1, True),)
    """Per press step: its name, how many keys, whether a prompt must follow."""
    ivr_hangs_up: bool = True

    @classmethod
    def of(cls, script: CallerScript) -> Expected:
        return cls(tuple((p.name, len(p.keys), p.prompt_after) for p in script.presses),
                   script.ivr_hangs_up)

    @property
    def digits(self) -> int:
        return sum(n for _, n, _ in self.presses)

    def step_at(self) -> dict[int, int]:
        """The digit count at which each measured step is complete -> the step's index."""
        out, total = {}, 0
        for index, (_, n, prompt_after) in enumerate(self.presses):
            total += n
            if prompt_after:
                out[total] = index
        return out


@dataclass
class CallTrace:
    """One call as the capture shows it."""

    call_id: str
    invite_ts: float
    local_port: int | None = None
    final_status: int = 0
    answer_ts: float | None = None
    remote_port: int | None = None
    expected: Expected = field(default_factory=Expected)
    key_ends: list[float] = field(default_factory=list)
    answer_audio: float | None = None
    key_audio: dict[int, float | None] = field(default_factory=dict)
    """Measured press step (index in the script) -> key to next prompt, None: none yet."""
    bye_ts: float | None = None
    bye_by: str = ""
    """"ivr" (Asterisk sent the BYE) or "caller" (the generator gave up waiting)."""
    _keys_seen: set[int] = field(default_factory=set)
    _last_packet: float = 0.0
    _last_loud: bool = False
    _busy_at_key: bool = False
    _waiting: int | None = None
    """The press step whose prompt is awaited (until the caller's next key)."""

    @property
    def done(self) -> bool:
        return self.bye_ts is not None or (self.final_status >= 300)

    def failure(self) -> str | None:
        """Why the call failed, or None if it did what a caller expects."""
        keys_expected = self.expected.digits
        if self.final_status >= 300:
            return f"rejected {self.final_status}"
        if self.answer_ts is None:
            return "no answer" if self.done else "unfinished"
        if self.answer_audio is None and self.done:
            return "no audio after answer"
        if len(self.key_ends) >= keys_expected and self.done \
                and any(a is None for a in self.key_audio.values()):
            return "no prompt after key"
        if self.bye_by == "caller" and self.expected.ivr_hangs_up:
            return "caller hung up (no hang-up by the IVR in time)"
        if not self.done:
            return "unfinished"
        if len(self.key_ends) < keys_expected:
            return "keys not sent"
        if self.bye_by == "ivr" and not self.expected.ivr_hangs_up:
            return "the IVR hung up before the caller"
        return None

    def on_audio(self, ts: float, loud: bool) -> None:
        gap = ts - self._last_packet > GAP or not self._last_loud
        if loud:
            if self.answer_audio is None and self.answer_ts is not None:
                self.answer_audio = ts - self.answer_ts
            if self._waiting is not None and (gap or not self._busy_at_key):
                self.key_audio[self._waiting] = ts - self.key_ends[-1]
                self._waiting = None
        self._last_packet, self._last_loud = ts, loud

    def on_key_end(self, ts: float, rtp_timestamp: int) -> None:
        if rtp_timestamp in self._keys_seen:
            return  # the end packet is sent three times
        self._keys_seen.add(rtp_timestamp)
        self.key_ends.append(ts)
        self._waiting = self.expected.step_at().get(len(self.key_ends))
        if self._waiting is not None:
            self.key_audio[self._waiting] = None
        self._busy_at_key = ts - self._last_packet <= GAP and self._last_loud


@dataclass
class CallBook:
    """Every call of the run, fed datagram by datagram (possibly while the capture grows)."""

    sip_port: int = 5060
    """Asterisk's SIP port: a message from it is from the IVR side."""
    caller_port: int | None = None
    """The generator's SIP port: other SIP traffic on the machine (a tester's softphone on
    the same Asterisk) is not one of the run's calls."""
    expected: Expected = field(default_factory=Expected)
    calls: dict[str, CallTrace] = field(default_factory=dict)
    _by_local_port: dict[int, CallTrace] = field(default_factory=dict)

    def feed(self, packets: list[Datagram]) -> None:
        for packet in packets:
            if packet.src == self.sip_port or packet.dst == self.sip_port:
                self._sip(packet)
            elif (call := self._by_local_port.get(packet.dst)) is not None \
                    and packet.src == call.remote_port:
                header = parse_rtp(packet.payload)
                if header is not None and header.payload_type == PCMU:
                    body = packet.payload[header.payload_offset:]
                    call.on_audio(packet.ts, len(body.translate(None, _QUIET)) >= LOUD_SAMPLES)
            elif (call := self._by_local_port.get(packet.src)) is not None:
                header = parse_rtp(packet.payload)
                event = event_end(packet.payload, header) if header is not None else None
                if header is not None and event is not None and event[1]:
                    call.on_key_end(packet.ts, header.timestamp)

    def _sip(self, packet: Datagram) -> None:
        if self.caller_port is not None and self.caller_port not in (packet.src, packet.dst):
            return
        message = parse_sip(packet.payload)
        if message is None or not message.call_id:
            return
        from_ivr = packet.src == self.sip_port
        call = self.calls.get(message.call_id)
        if message.method == "INVITE" and not from_ivr:
            if call is None:
                call = self.calls[message.call_id] = CallTrace(message.call_id, packet.ts,
                                                               expected=self.expected)
            if message.media_port is not None:
                call.local_port = message.media_port
                self._by_local_port[message.media_port] = call
            return
        if call is None:
            return
        if not message.is_request and message.cseq_method == "INVITE" and from_ivr:
            status = message.status
            if status >= 200 and not call.final_status:
                call.final_status = status
                if status == 200:
                    call.answer_ts = packet.ts
                    call.remote_port = message.media_port
        elif message.method == "BYE" and call.bye_ts is None:
            call.bye_ts = packet.ts
            call.bye_by = "ivr" if from_ivr else "caller"

    def step_names(self) -> list[str]:
        """The latencies reported, in the call's order: the answer, each measured press,
        every press together."""
        return [ANSWER_STEP] + [step_name(self.expected.presses[i][0])
                                for i in self.expected.step_at().values()] + [KEY_STEP]

    def summary(self) -> Summary:
        """Counts and latencies of the calls seen so far."""
        failures: Counter[str] = Counter()
        steps: dict[str, list[float]] = {name: [] for name in self.step_names()}
        completed = in_progress = 0
        for call in self.calls.values():
            reason = call.failure()
            if reason == "unfinished":
                in_progress += 1
            elif reason is None:
                completed += 1
            else:
                failures[reason] += 1
            if call.answer_audio is not None:
                steps[ANSWER_STEP].append(call.answer_audio)
            for index, latency in call.key_audio.items():
                if latency is not None:
                    steps[step_name(self.expected.presses[index][0])].append(latency)
                    steps[KEY_STEP].append(latency)
        return Summary(len(self.calls), completed, in_progress, dict(failures), steps)


@dataclass(frozen=True)
class Summary:
    attempted: int
    completed: int
    in_progress: int
    failed: dict[str, int]
    steps: dict[str, list[float]]
    """Latencies in seconds, per step."""

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile (what a caller-facing target means: p95 = at most 5 % of
    the calls waited longer)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]
