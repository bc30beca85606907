"""The ears a Call listens with: the caller's audio (media.stream), voice activity
(media.vad) and a recognizer turn (media.speech) per utterance.

One `SpeechEars` per process: engines load their model once and are shared by every call.
`prewarm` opens, in the background, the engines the flows name, so that the first caller
does not wait for a model to load (or worker processes to start); a call that arrives while
its engine loads waits for that load, and an engine nobody prewarmed loads the first time its
language is heard. An engine that cannot be opened (a Vosk model not configured) is
remembered as unavailable, logged once, and its language falls back to keys; it is tried again
at the next flow reload, or by a call at most once a minute, so a model put in place later is
picked up without a restart. Per listening
node: the audio path is set up, speech onset stops a barge-in prompt, each utterance is
decoded when it ends (in the executor, or a worker process), and what it meant goes to the
call as keys: a menu phrase as its option's key, digits as digits then the entry's
terminator, anything unsure as '?' (a no-match), a failed decoding too. Leaving the node
tears the path down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ..ari import AriClient, AriError
from ..flow.runtime import NO_MATCH_KEY
from ..flow.types import Listen
from ..media.speech.engines import NoModelError, open_engine
from ..media.speech.grammar import Grammar, GrammarError
from ..media.speech.recognizer import AsyncTurn, Engine, RecognizerError
from ..media.stream import SAMPLE_RATE, CallerAudio
from ..media.talk import TALK_DETECT_MODULE, CallerGone, TalkDetector
from ..media.vad import Segmenter, SpeechEnded, SpeechStarted, speech_events, voiced_ms
from .config import vosk_setting
from .ears import Heard, Listener

log = logging.getLogger(__name__)

MIN_VOICED_MS = 30
"""Below this much periodic sound an utterance is noise (measured on the FSDD digits: the
fewest any had was 30 ms; white noise of any level had none)."""

PREWARM_TURNS = 2
"""Turns an engine is made ready for at start (decoders ~140 ms each); more are made as calls
need them."""

Opener = Callable[..., Engine]
"""open_engine(name, language, *, model, workers): tests give a fake."""

RETRY_AFTER = 60.0
"""Seconds before a call tries again an engine that could not be opened (a reload tries at
once: an operator who fixed a model setting reloads to see it)."""

READY, LOADING = "ready", "loading"


class SpeechEars:
    def __init__(self, client: AriClient, *, vosk_models: Mapping[str, Path] | None = None,
                 workers: int = 0, executor: Executor | None = None,
                 opener: Opener = open_engine,
                 clock: Callable[[], float] = time.monotonic,
                 eager: int | None = None) -> None:
        self.client = client
        self.eager = eager
        """How many callers at once get their audio path as a listening node starts (None:
        all); the nodes of callers beyond it open it when Asterisk says the caller talks
        (media/talk.py), which costs nothing until then but loses the first tens of ms of
        the first word (bench/README.md)."""
        self._eager_now = 0
        self._talk_detect: bool | None = None
        """Whether Asterisk has func_talkdetect (asked once; None: not known yet)."""
        self.vosk_models = dict(vosk_models or {})
        self.workers = workers
        self.executor = executor
        self._opener = opener
        self._loads: dict[tuple[str, str], asyncio.Task[Engine | None]] = {}
        self._states: dict[tuple[str, str], str] = {}
        self._failed_at: dict[tuple[str, str], float] = {}
        self._clock = clock
        self._closed = False
        self.on_decision: Callable[[str, str, float | None], None] = lambda *_: None
        """(engine, "accepted" | "rejected" | "no_match", seconds from the end of speech to
        the decision, when known): every decision, for the metrics."""
        self._releasing: set[asyncio.Task[None]] = set()
        """Listening paths being torn down behind the call (CallerAudio.release)."""

    def prewarm(self, engines: Iterable[tuple[str, str]]) -> None:
        """Start loading each (engine, language) not loaded or loading yet, and again each
        one found unavailable; returns at once."""
        if self._closed:
            return
        for name, language in engines:
            self._load(name, language, retry_after=0.0)

    async def engine(self, name: str, language: str) -> Engine | None:
        """The engine, once loaded (waiting for a load in progress); None if unavailable."""
        if self._closed:
            return None
        # a hang-up stops no load
        return await asyncio.shield(self._load(name, language, retry_after=RETRY_AFTER))

    def status(self) -> dict[str, str]:
        """"<language>/<engine>": "ready", "loading" or "unavailable: <why>"."""
        return {f"{language}/{name}": state
                for (name, language), state in sorted(self._states.items())}

    async def aclose(self) -> None:
        """Let loads in progress finish (a thread cannot be stopped midway), then free every
        engine (worker processes stop)."""
        self._closed = True
        await asyncio.gather(*self._releasing, return_exceptions=True)
        loads = list(self._loads.values())
        self._loads.clear()
        self._states.clear()
        self._failed_at.clear()
        engines = await asyncio.gather(*loads, return_exceptions=True)
        for engine in engines:
            if engine is not None and not isinstance(engine, BaseException):
                await asyncio.to_thread(engine.close)

    def _load(self, name: str, language: str, *,
              retry_after: float) -> asyncio.Task[Engine | None]:
        key = (name, language)
        task = self._loads.get(key)
        failed_at = self._failed_at.get(key)
        if task is None or (failed_at is not None
                            and self._clock() - failed_at >= retry_after):
            self._failed_at.pop(key, None)
            self._states[key] = LOADING
            task = asyncio.create_task(self._open(name, language),
                                       name=f"speech-{language}-{name}")
            self._loads[key] = task
        return task

    async def _open(self, name: str, language: str) -> Engine | None:
        """Open and prewarm in threads; a failure is logged here, once."""
        model = self.vosk_models.get(language) if name == "vosk" else None
        try:
            engine = await asyncio.to_thread(self._opener, name, language, model=model,
                                             workers=self.workers)
        except NoModelError as exc:
            reason = f"set {vosk_setting(exc.language)} to a Vosk model folder ({exc})"
        except RecognizerError as exc:
            reason = f"{vosk_setting(language)}={model}: {exc}" if model else str(exc)
        except Exception as exc:
            log.exception("speech engine %s for %s failed to open", name, language)
            reason = f"{type(exc).__name__}: {exc}"
        else:
            prewarm: Callable[[int], None] | None = getattr(engine, "prewarm", None)
            if prewarm is not None:
                try:
                    await asyncio.to_thread(prewarm, PREWARM_TURNS)
                except RecognizerError as exc:  # it works: decoders come with the calls
                    log.warning("speech engine %s for %s not prewarmed: %s", name, language,
                                exc)
            self._settle(name, language, READY)
            log.info("speech engine %s ready for %s (%s)", name, language,
                     f"{self.workers} worker processes" if self.workers else "in threads")
            return engine
        log.error("no speech in %s with %s, callers will use keys: %s", language, name, reason)
        if self._settle(name, language, f"unavailable: {reason}"):
            self._failed_at[(name, language)] = self._clock()
        return None

    def _settle(self, name: str, language: str, state: str) -> bool:
        if (name, language) not in self._states:  # closed meanwhile
            return False
        self._states[(name, language)] = state
        return True

    @contextlib.asynccontextmanager
    async def listen(self, call: Listener, request: Listen,
                     heard: Heard) -> AsyncIterator[bool]:
        engine = await self.engine(request.engine, request.language)
        grammar = await _grammar(request, engine)
        if engine is None or grammar is None:
            yield False
            return
        eager = self.eager is None or self._eager_now < self.eager
        if not eager and not await self._can_detect_talk():
            eager = True
        if eager:
            self._eager_now += 1
            try:
                async with self._listen(call, request, heard, engine, grammar, None) as on:
                    yield on
            finally:
                self._eager_now -= 1
        else:
            async with self._listen(call, request, heard, engine, grammar,
                                    TalkDetector(self.client, call.id)) as on:
                yield on

    @contextlib.asynccontextmanager
    async def _listen(self, call: Listener, request: Listen, heard: Heard, engine: Engine,
                      grammar: Grammar, talk: TalkDetector | None) -> AsyncIterator[bool]:
        """With a talk detector, the path opens when the caller talks (and one that cannot be
        opened then leaves the node to keys); without, before the node starts (and one that
        cannot be opened says so: the caller is told to use the keypad)."""
        if talk is not None:
            try:
                await talk.start()
            except AriError as exc:  # the caller went, most likely: open the path at once
                log.warning("no talk detection on call %s: %s", call.id, exc)
                talk = None
        audio = CallerAudio(self.client, call.id)
        if talk is None:
            try:
                await audio.start()
            except AriError as exc:
                log.warning("cannot hear call %s: %s", call.id, exc)
                yield False
                return
        hearing = asyncio.create_task(
            self._hear_when_talking(talk, audio, engine, grammar, request, call, heard))
        try:
            yield True
        finally:
            hearing.cancel()
            await asyncio.gather(hearing, return_exceptions=True)
            # The caller waits for the next prompt: tear down behind it, never before it.
            for releasing in (audio.release() if audio.started else None,
                              talk.release() if talk is not None else None):
                if releasing is not None:
                    self._releasing.add(releasing)
                    releasing.add_done_callback(self._released)

    async def _hear_when_talking(self, talk: TalkDetector | None, audio: CallerAudio,
                                 engine: Engine, grammar: Grammar, request: Listen,
                                 call: Listener, heard: Heard) -> None:
        """With a detector: wait for the caller to talk, then open the path; then hear."""
        if talk is not None:
            try:
                await talk.talking()
            except CallerGone:
                return
            began = time.monotonic()
            try:
                await audio.start()
            except AriError as exc:
                log.warning("cannot hear call %s: %s", call.id, exc)
                return
            # what the caller said in the meantime is lost: how long that was, per call
            call.trace("talking", node=request.node,
                       path_ms=round((time.monotonic() - began) * 1000))
        await self._hear(audio, engine, grammar, request, call, self._counted(heard))

    async def _can_detect_talk(self) -> bool:
        """Asterisk without func_talkdetect.so accepts TALK_DETECT(set) and never says a
        word: every path then opens as its node starts (logged once)."""
        if self._talk_detect is None:
            try:
                loaded = await self.client.system.module_running(TALK_DETECT_MODULE)
            except AriError as exc:  # ask again next time
                log.warning("cannot tell whether Asterisk detects talk: %s", exc)
                return False
            if not loaded:
                log.error("Asterisk has no %s: every listening caller's audio path opens as "
                          "the node starts (IVR_SPEECH_EAGER has no effect)",
                          TALK_DETECT_MODULE)
            self._talk_detect = loaded
        return self._talk_detect

    def _released(self, task: asyncio.Task[None]) -> None:
        self._releasing.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("listener teardown failed: %s", exc, exc_info=exc)

    def _counted(self, heard: Heard) -> Heard:
        def counted(keys: str, **fields: Any) -> None:
            result = "accepted" if fields.get("accepted") else \
                "rejected" if fields.get("text") else "no_match"
            decided = fields.get("decided_ms")
            self.on_decision(str(fields.get("engine") or ""), result,
                             decided / 1000 if isinstance(decided, int | float) else None)
            heard(keys, **fields)

        return counted

    async def _hear(self, audio: CallerAudio, engine: Engine, grammar: Grammar,
                    request: Listen, call: Listener, heard: Heard) -> None:
        async for event in speech_events(audio.frames(), Segmenter(SAMPLE_RATE)):
            if isinstance(event, SpeechStarted):
                call.speech_started()
                continue
            assert isinstance(event, SpeechEnded)
            segment = event.segment
            voiced = await asyncio.to_thread(voiced_ms, segment.audio, segment.sample_rate)
            if voiced < MIN_VOICED_MS:  # noise: a recognizer would still pick some phrase
                heard(NO_MATCH_KEY, text="", confidence=0.0, engine=request.engine,
                      node=request.node, accepted=False, reason="no voiced sound",
                      duration_ms=segment.duration_ms)
                continue
            try:
                turn = await AsyncTurn.start(engine, grammar, input_rate=SAMPLE_RATE,
                                             executor=self.executor)
                try:
                    turn.feed(segment.audio)
                    result = await turn.finish()
                finally:
                    await turn.aclose()
            except RecognizerError as exc:  # e.g. its worker process died: ask again
                log.error("call %s: recognition failed in node %s: %s", call.id,
                          request.node, exc)
                heard(NO_MATCH_KEY, text="", confidence=0.0, engine=request.engine,
                      node=request.node, accepted=False, reason=f"recognizer error: {exc}",
                      duration_ms=segment.duration_ms)
                continue
            accepted = result.accepted(request.confidence)
            keys = (result.value or "") + (request.terminator if grammar.is_digits else "") \
                if accepted else NO_MATCH_KEY
            heard(keys, text=result.text, confidence=round(result.confidence, 3),
                  engine=result.engine, node=request.node, accepted=accepted,
                  decided_ms=round(result.finish_s * 1000))


async def _grammar(request: Listen, engine: Engine | None) -> Grammar | None:
    """The node's grammar, checked against the engine's words (a phrase the engine cannot
    say is a configuration error: logged, and the node takes keys). The check runs in a
    thread: with worker processes it is a round trip to one."""
    if engine is None:
        return None
    try:
        grammar = (Grammar.digit_string(*request.digits, name=request.node)
                   if request.digits else Grammar.menu(request.phrases, name=request.node))
        await asyncio.to_thread(engine.check, grammar)
    except GrammarError as exc:
        log.error("node %s cannot listen: %s", request.node, exc)
        return None
    except RecognizerError as exc:
        log.error("node %s cannot listen now: %s", request.node, exc)
        return None
    return grammar
