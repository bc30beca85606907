"""A scriptable SIP softphone for tests and human testers: public API.

The engine (``ivr.testing.pjphone``) is pjsua2, which wants one Endpoint per process and its own
event polling. So every call runs in its own process: tests use :func:`place_call` (async) or
:func:`place_call_subprocess` (sync), which spawn ``python -m ivr.testing.call_cli`` and parse its
JSON report; many calls can run in parallel that way. :func:`run_call` runs the engine in the
current process (that is what the CLI does). This module does not import pjsua2 itself, so
importing it in pytest is cheap.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

from ivr.testing.phonespec import PhoneSpec, asterisk_host
from ivr.testing.report import EXIT_INTERNAL, CallReport
from ivr.testing.script import Step, parse_script

__all__ = [
    "AnsweringPhone",
    "CallReport",
    "PhoneOptions",
    "SoftphoneError",
    "normalize_target",
    "place_call",
    "place_call_subprocess",
    "run_call",
    "start_answerer",
]

DEFAULT_SIP_PORT = 5060


class SoftphoneError(RuntimeError):
    """The softphone process failed without writing a report (crash, bad arguments)."""


def normalize_target(target: str, host: str | None = None) -> str:
    """``100`` -> ``sip:100@127.0.0.1:5060``; ``100@h:p`` -> ``sip:100@h:p``; URIs unchanged.

    ``host`` may carry a port (``127.0.0.1:5070``); without one, 5060 is used. Without a host,
    the Asterisk of this process (phonespec.asterisk_host).
    """
    host = host or asterisk_host()
    if target.startswith(("sip:", "sips:")):
        return target
    if "@" in target:
        return f"sip:{target}"
    if ":" not in host:
        host = f"{host}:{DEFAULT_SIP_PORT}"
    return f"sip:{target}@{host}"


class PhoneOptions(TypedDict, total=False):
    """The keyword options of run_call / place_call / start_answerer (PhoneSpec fields)."""

    answer: bool
    answer_after: float
    reject: int | None
    bind: str
    port: int
    register: str | None
    username: str | None
    password: str | None
    registrar: str | None
    ready_file: Path | None
    verbose: bool
    caller_name: str | None


def _steps(script: Sequence[Step] | str) -> list[Step]:
    return parse_script(script) if isinstance(script, str) else list(script)


def run_call(
    target: str | None,
    script: Sequence[Step] | str = "",
    record: Path | None = None,
    caller: str | None = None,
    timeout: float = 30.0,
    **options: Unpack[PhoneOptions],
) -> CallReport:
    """Run one call with pjsua2 in THIS process (one per process); never raises for call errors.

    ``options`` are the other :class:`PhoneSpec` fields (:class:`PhoneOptions`).
    """
    from ivr.testing.pjphone import run_phone  # pjsua2 is loaded only here

    return run_phone(_spec(target, script, record, caller, timeout, options))


def _spec(
    target: str | None,
    script: Sequence[Step] | str,
    record: Path | None,
    caller: str | None,
    timeout: float,
    options: PhoneOptions,
) -> PhoneSpec:
    """A PhoneSpec from the public functions' arguments; ``100`` becomes a full SIP URI."""
    target = normalize_target(target) if target else None
    spec = PhoneSpec(target, _steps(script), record, caller, timeout)
    for key, value in options.items():
        if key not in PhoneSpec.__dataclass_fields__:
            raise TypeError(f"unexpected softphone option {key!r}")
        setattr(spec, key, value)
    return spec


def _command(spec: PhoneSpec, report_path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ivr.testing.call_cli",
        *spec.to_argv(),
        "--report",
        str(report_path),
        "--quiet",
    ]


def _read_report(report_path: Path, code: int, stderr: str, started: float) -> CallReport:
    """Parse the child's report; add the parent's timings; trust the exit code over the file."""
    if not report_path.exists():
        raise SoftphoneError(f"softphone exited {code} without a report: {stderr.strip()[-2000:]}")
    report = CallReport.loads(report_path.read_text())
    report.process_s = time.monotonic() - started
    if report.t0_monotonic is not None:  # CLOCK_MONOTONIC is system-wide on Linux
        report.startup_s = report.t0_monotonic - started
    if code != report.exit_code:  # e.g. a crash while tearing pjsua2 down after the report
        report.error = report.error or f"softphone process exited {code}: {stderr.strip()[-500:]}"
        report.exit_code = code if code != 0 else EXIT_INTERNAL
        report.ok = False
    return report


def place_call_subprocess(
    target: str | None,
    script: Sequence[Step] | str = "",
    record: Path | None = None,
    caller: str | None = None,
    timeout: float = 30.0,
    **options: Unpack[PhoneOptions],
) -> CallReport:
    """Run one call in a softphone subprocess and return its report (blocking).

    Not for code already inside an event loop: await :func:`place_call` there.
    """
    return asyncio.run(place_call(target, script, record, caller, timeout, **options))


def _process_deadline(spec: PhoneSpec) -> float:
    """A generous wall-clock bound for the whole process: connect timeout plus the script."""
    from ivr.testing.script import Dtmf, Play, Wait, WaitHangup

    total = spec.timeout + 20.0
    for step in spec.steps:
        if isinstance(step, Wait):
            total += step.seconds
        elif isinstance(step, WaitHangup):
            total += step.timeout
        elif isinstance(step, Dtmf):
            total += len(step.digits) * (step.gap + 0.2)
        elif isinstance(step, Play):
            total += 120.0  # unknown length here; the child bounds it by the WAV's duration
    return total


async def place_call(
    target: str | None,
    script: Sequence[Step] | str = "",
    record: Path | None = None,
    caller: str | None = None,
    timeout: float = 30.0,
    **options: Unpack[PhoneOptions],
) -> CallReport:
    """Async :func:`place_call_subprocess`: run many of these with ``asyncio.gather``."""
    spec = _spec(target, script, record, caller, timeout, options)
    with tempfile.TemporaryDirectory(prefix="ivr-call-") as tmp:
        report_path = Path(tmp) / "report.json"
        start = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *_command(spec, report_path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(_process_deadline(spec)):
                _, err = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise SoftphoneError(f"softphone did not finish: {spec.to_argv()}") from None
        code = proc.returncode if proc.returncode is not None else EXIT_INTERNAL
        return _read_report(report_path, code, err.decode(errors="replace"), start)


@dataclass
class AnsweringPhone:
    """A softphone subprocess waiting for one call (``--answer``); dial :attr:`uri`."""

    uri: str
    process: asyncio.subprocess.Process
    report_path: Path
    tmpdir: tempfile.TemporaryDirectory[str]
    started: float

    async def result(self, timeout: float = 60.0) -> CallReport:
        """Wait for the answering phone to finish its call and return its report."""
        try:
            async with asyncio.timeout(timeout):
                _, err = await self.process.communicate()
        except TimeoutError:
            await self.close()
            raise SoftphoneError("answering softphone did not finish in time") from None
        code = self.process.returncode if self.process.returncode is not None else EXIT_INTERNAL
        try:
            return _read_report(self.report_path, code, err.decode(errors="replace"), self.started)
        finally:
            self.tmpdir.cleanup()

    async def close(self) -> None:
        """Kill the process if it is still running (test teardown)."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self.tmpdir.cleanup()


async def start_answerer(
    script: Sequence[Step] | str = "",
    record: Path | None = None,
    timeout: float = 30.0,
    ready_timeout: float = 10.0,
    **options: Unpack[PhoneOptions],
) -> AnsweringPhone:
    """Start a softphone that auto-answers one incoming call; returns once it is listening.

    The default script waits for the caller to hang up (up to ``timeout`` seconds).
    """
    steps = _steps(script) or parse_script(f"wait-hangup {timeout:g}")
    tmp = tempfile.TemporaryDirectory(prefix="ivr-answer-")
    ready = Path(tmp.name) / "ready"
    spec = _spec(
        None, steps, record, None, timeout, {**options, "answer": True, "ready_file": ready}
    )
    report_path = Path(tmp.name) / "report.json"
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *_command(spec, report_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    phone = AnsweringPhone("", proc, report_path, tmp, started)
    deadline = time.monotonic() + ready_timeout
    while not ready.exists():
        if proc.returncode is not None or time.monotonic() > deadline:
            err = b""
            if proc.returncode is None:
                proc.kill()
            if proc.stderr is not None:
                err = await proc.stderr.read()
            await proc.wait()
            tmp.cleanup()
            raise SoftphoneError(f"answering softphone did not start: {err.decode()[-2000:]}")
        await asyncio.sleep(0.02)
    phone.uri = ready.read_text().strip()
    return phone
