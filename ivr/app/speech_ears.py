"""The ears a Call listens with: the caller's audio (media.stream), voice activity
(media.vad) and a recognizer turn (media.speech) per utterance.

One `SpeechEars` per process: engines load their model once (the first time a language is
heard) and are shared by every call; an engine that cannot be opened (a Vosk model not
configured) is remembered as missing, logged once, and its language falls back to keys. Per
listening node: the audio path is set up, speech onset stops a barge-in prompt, each
utterance is decoded when it ends (in the executor), and what it meant goes to the call as
keys: a menu phrase as its option's key, digits as digits then the entry's terminator,
anything unsure as '?' (a no-match). Leaving the node tears the path down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import Executor

from ..ari import AriClient, AriError
from ..flow.runtime import NO_MATCH_KEY, Listen
from ..media.speech.engines import open_engine
from ..media.speech.grammar import Grammar, GrammarError
from ..media.speech.recognizer import AsyncTurn, Engine, RecognizerError
from ..media.stream import SAMPLE_RATE, CallerAudio
from ..media.vad import Segmenter, SpeechEnded, SpeechStarted, speech_events, voiced_ms
from .ears import Heard, Listener

log = logging.getLogger(__name__)

MIN_VOICED_MS = 30
"""Below this much periodic sound an utterance is noise (measured on the FSDD digits: the
fewest any had was 30 ms; white noise of any level had none)."""


class SpeechEars:
    def __init__(self, client: AriClient, env: Mapping[str, str] | None = None,
                 executor: Executor | None = None) -> None:
        self.client = client
        self.env = os.environ if env is None else env
        self.executor = executor
        self._engines: dict[tuple[str, str], Engine | None] = {}
        self._loading = asyncio.Lock()

    async def engine(self, name: str, language: str) -> Engine | None:
        """Loaded once, in a thread (a model takes a while to load)."""
        key = (name, language)
        async with self._loading:
            if key not in self._engines:
                try:
                    self._engines[key] = await asyncio.to_thread(open_engine, name, language,
                                                                 self.env)
                    log.info("speech engine %s ready for %s", name, language)
                except RecognizerError as exc:
                    log.error("no speech in %s: %s", language, exc)
                    self._engines[key] = None
        return self._engines[key]

    def close(self) -> None:
        for engine in self._engines.values():
            if engine is not None:
                engine.close()
        self._engines.clear()

    @contextlib.asynccontextmanager
    async def listen(self, call: Listener, request: Listen,
                     heard: Heard) -> AsyncIterator[bool]:
        engine = await self.engine(request.engine, request.language)
        grammar = _grammar(request, engine)
        if engine is None or grammar is None:
            yield False
            return
        audio = CallerAudio(self.client, call.id)
        try:
            await audio.start()
        except AriError as exc:
            log.warning("cannot hear call %s: %s", call.id, exc)
            yield False
            return
        hearing = asyncio.create_task(self._hear(audio, engine, grammar, request, call, heard))
        try:
            yield True
        finally:
            hearing.cancel()
            await asyncio.gather(hearing, return_exceptions=True)
            await audio.stop()

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
            turn = await AsyncTurn.start(engine, grammar, input_rate=SAMPLE_RATE,
                                         executor=self.executor)
            try:
                turn.feed(segment.audio)
                result = await turn.finish()
            finally:
                await turn.aclose()
            accepted = result.accepted(request.confidence)
            keys = (result.value or "") + (request.terminator if grammar.is_digits else "") \
                if accepted else NO_MATCH_KEY
            heard(keys, text=result.text, confidence=round(result.confidence, 3),
                  engine=result.engine, node=request.node, accepted=accepted,
                  decided_ms=round(result.finish_s * 1000))


def _grammar(request: Listen, engine: Engine | None) -> Grammar | None:
    """The node's grammar, checked against the engine's words (a phrase the engine cannot
    say is a configuration error: logged, and the node takes keys)."""
    if engine is None:
        return None
    try:
        grammar = (Grammar.digit_string(*request.digits, name=request.node)
                   if request.digits else Grammar.menu(request.phrases, name=request.node))
        engine.check(grammar)
    except GrammarError as exc:
        log.error("node %s cannot listen: %s", request.node, exc)
        return None
    return grammar
