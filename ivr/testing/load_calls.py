"""Each call of a load run, judged from the packet capture alone.

The capture is the one clock every side shares: SIP says when a call was answered and who hung
up, the generator's RFC 4733 end packets say when a key ended, its PCMU packets when the caller
spoke, and Asterisk's PCMU packets say when audio started. The latencies per call:

- answer -> first audio: the 200 OK to the first loud packet from Asterisk;
- key -> next prompt, per press step of the caller's script (a step's last key, as in a PIN):
  the key's first end packet to the first loud packet after it, before the caller's next key.
  When audio was still playing as the key ended (the caller barged in), the onset must follow a
  gap, or the tail of the old prompt would count as the new one. A press the script expects no
  prompt after (the caller hangs up, or presses on) is not measured.
- end of speech -> next prompt, per say step: from the last loud packet the caller sent in the
  utterance (an utterance starts with a marked packet, load_media.py) to the first loud packet
  from Asterisk after it, with the same rule for audio still playing then. A loud packet that
  Asterisk sends while the caller is still speaking is not the answer: each loud packet of the
  caller's moves the end of speech on.

A call fails for the first of these reasons: rejected (a final response other than 200),
no answer, no audio after answer, no prompt after a key (or after speech), the caller had to
hang up (the IVR did not within the caller's patience), unfinished when the capture ended, keys
(or speech) not sent, or the IVR hung up where the caller was to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .load_pcap import PCMU, Datagram, event_end, parse_rtp, parse_sip, quiet_codes
from .load_sipp import CallerScript, KeyPress

GAP = 0.045
"""Seconds without a packet (Asterisk sends one every 20 ms while playing) that end a prompt."""
LOUD_THRESHOLD = 300
LOUD_SAMPLES = 8
_QUIET = quiet_codes(LOUD_THRESHOLD)

ANSWER_STEP = "answer->audio"
KEY_STEP = "key->prompt"
"""Every measured press of the run together (the per-step figures are named after the step)."""
SPEECH_STEP = "speech end->prompt"
"""Every measured utterance of the run together."""


def step_name(name: str, speech: bool = False) -> str:
    """What the report calls one step's latency: from its key, or from the end of its speech."""
    return f"{name} {'end->prompt' if speech else '->prompt'}"


@dataclass(frozen=True)
class Step:
    """One action of the caller's script as the judge needs it."""

    name: str
    keys: int = 1
    """How many keys a press has; 0 for an utterance."""
    prompt_after: bool = True
    """Whether a prompt must follow (then its latency is measured)."""

    @property
    def speech(self) -> bool:
        return self.keys == 0


@dataclass(frozen=True)
class Expected:
    """What a call of the run is to do, as the judge needs it."""

    steps: tuple[Step, ...] = (Step("key 1"),)
    """The presses and utterances, in the order the caller does them."""
    ivr_hangs_up: bool = True

    @classmethod
    def of(cls, script: CallerScript) -> Expected:
        return cls(tuple(Step(a.name, len(a.keys) if isinstance(a, KeyPress) else 0,
                              a.prompt_after) for a in script.actions), script.ivr_hangs_up)

    @property
    def digits(self) -> int:
        return sum(s.keys for s in self.steps)

    @property
    def utterances(self) -> int:
        return sum(s.speech for s in self.steps)

    def step_at(self, speech: bool = False) -> dict[int, int]:
        """The digit count (or with `speech`, the utterance count) at which each measured
        press (utterance) is complete -> the step's index."""
        out, total = {}, 0
        for index, step in enumerate(self.steps):
            if step.speech != speech:
                continue
            total += 1 if speech else step.keys
            if step.prompt_after:
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
    utterances: int = 0
    """Utterances the caller began (marked PCMU packets)."""
    answer_audio: float | None = None
    step_audio: dict[int, float | None] = field(default_factory=dict)
    """Measured step (index in the script) -> key or end of speech to next prompt, None: none
    yet."""
    bye_ts: float | None = None
    bye_by: str = ""
    """"ivr" (Asterisk sent the BYE) or "caller" (the generator gave up waiting)."""
    _keys_seen: set[int] = field(default_factory=set)
    _last_packet: float = 0.0
    _last_loud: bool = False
    _busy_at_action: bool = False
    _action_end: float = 0.0
    """When the caller's last key ended, or its last loud packet of speech."""
    _waiting: int | None = None
    """The step whose prompt is awaited (until the caller's next action)."""
    _speaking: int | None = None
    """The measured say step the caller's loud packets belong to (until its next action)."""

    @property
    def done(self) -> bool:
        return self.bye_ts is not None or (self.final_status >= 300)

    def failure(self) -> str | None:
        """Why the call failed, or None if it did what a caller expects."""
        expected = self.expected
        if self.final_status >= 300:
            return f"rejected {self.final_status}"
        if self.answer_ts is None:
            return "no answer" if self.done else "unfinished"
        if self.answer_audio is None and self.done:
            return "no audio after answer"
        sent = len(self.key_ends) >= expected.digits and self.utterances >= expected.utterances
        missing = [i for i, latency in self.step_audio.items() if latency is None]
        if sent and self.done and missing:
            return "no prompt after speech" if expected.steps[missing[0]].speech \
                else "no prompt after key"
        if self.bye_by == "caller" and expected.ivr_hangs_up:
            return "caller hung up (no hang-up by the IVR in time)"
        if not self.done:
            return "unfinished"
        if len(self.key_ends) < expected.digits:
            return "keys not sent"
        if self.utterances < expected.utterances:
            return "speech not sent"
        if self.bye_by == "ivr" and not expected.ivr_hangs_up:
            return "the IVR hung up before the caller"
        return None

    def on_audio(self, ts: float, loud: bool) -> None:
        """A PCMU packet from Asterisk."""
        gap = ts - self._last_packet > GAP or not self._last_loud
        if loud:
            if self.answer_audio is None and self.answer_ts is not None:
                self.answer_audio = ts - self.answer_ts
            if self._waiting is not None and (gap or not self._busy_at_action):
                self.step_audio[self._waiting] = ts - self._action_end
                self._waiting = None
        self._last_packet, self._last_loud = ts, loud

    def _await(self, step: int | None, ts: float) -> None:
        """The caller's action that `step` measures (None: not measured) ended at `ts`."""
        self._waiting, self._action_end = step, ts
        if step is not None:
            self.step_audio[step] = None
        self._busy_at_action = ts - self._last_packet <= GAP and self._last_loud

    def on_key_end(self, ts: float, rtp_timestamp: int) -> None:
        if rtp_timestamp in self._keys_seen:
            return  # the end packet is sent three times
        self._keys_seen.add(rtp_timestamp)
        self.key_ends.append(ts)
        self._speaking = None
        self._await(self.expected.step_at().get(len(self.key_ends)), ts)

    def on_speech(self, ts: float, start: bool, loud: bool) -> None:
        """A PCMU packet from the caller: `start`, the first of an utterance (its marker)."""
        if start:
            self.utterances += 1
            self._speaking = self.expected.step_at(speech=True).get(self.utterances)
            self._await(None, ts)  # the caller's next action: the one before is answered or not
        if loud and self._speaking is not None:
            self._await(self._speaking, ts)  # the end of speech, so far


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
                if header is None:
                    continue
                if header.payload_type == PCMU:
                    body = packet.payload[header.payload_offset:]
                    call.on_speech(packet.ts, header.marker,
                                   len(body.translate(None, _QUIET)) >= LOUD_SAMPLES)
                elif (event := event_end(packet.payload, header)) is not None and event[1]:
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
        """The latencies reported, in the call's order: the answer, each measured press or
        utterance, every press together, every utterance together (where there are any)."""
        measured = [step for step in self.expected.steps if step.prompt_after]
        names = [ANSWER_STEP] + [step_name(step.name, step.speech) for step in measured]
        speech = [step.speech for step in measured]
        if not all(speech) or not speech:
            names.append(KEY_STEP)
        if any(speech):
            names.append(SPEECH_STEP)
        return names

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
            for index, latency in call.step_audio.items():
                if latency is not None:
                    step = self.expected.steps[index]
                    steps[step_name(step.name, step.speech)].append(latency)
                    steps[SPEECH_STEP if step.speech else KEY_STEP].append(latency)
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
