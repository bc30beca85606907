"""The softphone's tiny call-script language, parsed into dataclasses.

Pure Python (no pjsua2) so tests can check scripts without placing calls, and so a script can be
passed to a softphone subprocess as text and parsed again there (``to_text`` round-trips).

Grammar: steps separated by ``;`` or newlines; a line whose first non-blank character is ``#`` is
a comment (``#`` inside a step is a DTMF digit, as in ``dtmf 123#``)::

    wait SECONDS            pause; ends early if the call ends (not an error by itself)
    dtmf DIGITS [GAP]       RFC 4733 digits 0-9 * # A-D, GAP seconds apart (default 0.25)
    play FILE               WAV as microphone until the file ends
    play-bg FILE            start a WAV as microphone and go on with the next step
    wait-hangup SECONDS     wait for the remote side to hang up; fail if it does not in time
    hangup                  hang up now (the default when a script ends)
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DTMF_DIGITS = frozenset("0123456789*#ABCD")
DEFAULT_DTMF_GAP = 0.25
DEFAULT_DTMF_DURATION = 0.16


class ScriptError(ValueError):
    """A script that cannot be parsed; the message names the step and what is wrong."""


@dataclass(frozen=True)
class Wait:
    """Pause the script; returns early when the call has ended."""

    seconds: float

    def to_text(self) -> str:
        return f"wait {_num(self.seconds)}"


@dataclass(frozen=True)
class Dtmf:
    """Send digits as RFC 4733 events, one at a time with a gap (IVRs drop digits sent too fast)."""

    digits: str
    gap: float = DEFAULT_DTMF_GAP

    def to_text(self) -> str:
        if self.gap == DEFAULT_DTMF_GAP:
            return f"dtmf {self.digits}"
        return f"dtmf {self.digits} {_num(self.gap)}"


@dataclass(frozen=True)
class Play:
    """Use a WAV file as the microphone; blocking unless ``background``."""

    path: Path
    background: bool = False

    def to_text(self) -> str:
        verb = "play-bg" if self.background else "play"
        return f"{verb} {shlex.quote(str(self.path))}"


@dataclass(frozen=True)
class WaitHangup:
    """Expect the remote side to hang up within ``timeout`` seconds (the IVR ends the call)."""

    timeout: float

    def to_text(self) -> str:
        return f"wait-hangup {_num(self.timeout)}"


@dataclass(frozen=True)
class Hangup:
    """Hang up the call from our side."""

    def to_text(self) -> str:
        return "hangup"


Step = Wait | Dtmf | Play | WaitHangup | Hangup


def _num(value: float) -> str:
    """Shortest text for a number so ``to_text`` output stays readable (2.5, 10, 0.25)."""
    return f"{value:g}"


def _seconds(word: str, where: str) -> float:
    try:
        value = float(word)
    except ValueError:
        raise ScriptError(f"{where}: {word!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise ScriptError(f"{where}: seconds must be a finite number >= 0, got {word!r}")
    return value


def _expect_args(args: list[str], lo: int, hi: int, where: str, usage: str) -> None:
    if not lo <= len(args) <= hi:
        raise ScriptError(f"{where}: expected `{usage}`")


def parse_step(text: str, index: int = 1) -> Step:
    """Parse one step such as ``dtmf 123#``; ``index`` only makes error messages precise."""
    try:
        words = shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        raise ScriptError(f"step {index} {text.strip()!r}: {exc}") from None
    if not words:
        raise ScriptError(f"step {index}: empty step")
    verb, args = words[0].lower(), words[1:]
    where = f"step {index} {text.strip()!r}"
    if verb == "wait":
        _expect_args(args, 1, 1, where, "wait SECONDS")
        return Wait(_seconds(args[0], where))
    if verb == "dtmf":
        _expect_args(args, 1, 2, where, "dtmf DIGITS [GAP_SECONDS]")
        digits = args[0].upper()
        bad = sorted(set(digits) - DTMF_DIGITS)
        if bad:
            raise ScriptError(f"{where}: not DTMF digits: {''.join(bad)!r} (use 0-9 * # A-D)")
        gap = _seconds(args[1], where) if len(args) == 2 else DEFAULT_DTMF_GAP
        return Dtmf(digits, gap)
    if verb in ("play", "play-bg"):
        _expect_args(args, 1, 1, where, f"{verb} FILE.wav")
        return Play(Path(args[0]), background=verb == "play-bg")
    if verb == "wait-hangup":
        _expect_args(args, 1, 1, where, "wait-hangup SECONDS")
        return WaitHangup(_seconds(args[0], where))
    if verb == "hangup":
        _expect_args(args, 0, 0, where, "hangup")
        return Hangup()
    raise ScriptError(
        f"{where}: unknown step {verb!r} (known: wait, dtmf, play, play-bg, wait-hangup, hangup)"
    )


def _split(text: str) -> Iterable[str]:
    """Split on newlines and ``;`` outside quotes, dropping comment lines and blanks."""
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        part: list[str] = []
        quote = ""
        for ch in line:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == ";":
                yield "".join(part)
                part = []
                continue
            part.append(ch)
        yield "".join(part)


def parse_script(text: str) -> list[Step]:
    """Parse a whole script (``wait 3; dtmf 1; wait-hangup 15``) into steps, in order."""
    steps: list[Step] = []
    for chunk in _split(text):
        if chunk.strip():
            steps.append(parse_step(chunk, len(steps) + 1))
    return steps


def script_to_text(steps: Iterable[Step]) -> str:
    """The inverse of :func:`parse_script`, to hand a script to a softphone subprocess."""
    return "; ".join(step.to_text() for step in steps)


def needs_media(step: Step) -> bool:
    """Steps that act on a live call (and fail if the remote side already hung up)."""
    return isinstance(step, Dtmf | Play)
