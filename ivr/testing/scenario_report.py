"""What `ivr test` tells people: a failure in words, JUnit XML for CI, a self-contained HTML page.

The failure text says what was expected, what was heard instead and where the recording and
trace are kept, so a tester can listen to the call that failed without running it again. The
HTML report has no external stylesheet or script (it opens from a CI artifact as it is); it
links the kept recordings and traces by relative path.
"""

from __future__ import annotations

import html
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from .outcome import ScenarioResult


def failure_text(result: ScenarioResult) -> str:
    """The lines printed for a scenario that failed."""
    seen = result.observed
    head = f"FAIL {result.scenario.file} ({result.scenario.name}, {result.runner})"
    lines = [head]
    if seen.error is not None:
        lines.append(f"  {seen.error}")
    for step in result.failures():
        lines.append(f"  {result.scenario.file}:{step.line}: {step.label}")
        lines.append(f"    {step.detail}")
    heard = ", ".join(str(h) for h in seen.heard) or "nothing"
    lines.append(f"  heard: {heard}")
    if seen.recording:
        lines.append(f"  recording: {seen.recording}")
    if seen.trace:
        lines.append(f"  trace: {seen.trace}")
    return "\n".join(lines)


def summary_line(results: Sequence[ScenarioResult], seconds: float) -> str:
    failed = sum(1 for r in results if not r.ok)
    return f"{len(results) - failed} passed, {failed} failed in {seconds:.1f}s"


def junit_xml(results: Sequence[ScenarioResult], name: str = "ivr test") -> str:
    """One testsuite, one testcase per scenario; a failure's message is the failure text."""
    failed = sum(1 for r in results if not r.ok)
    total = sum(r.wall_seconds for r in results)
    suite = ET.Element("testsuite", name=name, tests=str(len(results)), failures=str(failed),
                       errors="0", skipped="0", time=f"{total:.3f}")
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{result.runner}",
                             name=f"{result.scenario.name} ({result.scenario.file})",
                             time=f"{result.wall_seconds:.3f}")
        if not result.ok:
            first = result.failures()[0] if result.failures() else None
            message = result.observed.error or (
                f"{first.label}: {first.detail}" if first else "failed")
            failure = ET.SubElement(case, "failure", message=message, type="ScenarioFailed")
            failure.text = failure_text(result)
        steps = "\n".join(f"{'ok  ' if s.ok else 'FAIL'} line {s.line}: {s.label}"
                          + (f" ({s.detail})" if s.detail else "") for s in result.steps)
        ET.SubElement(case, "system-out").text = steps
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
.ok{color:#176b2c}.fail{color:#b00020;font-weight:600}
details{margin:.4em 0} summary{cursor:pointer} code{font-size:.95em}
"""


def _link(path: str | None, base: Path) -> str:
    if not path:
        return "-"
    relative = os.path.relpath(Path(path).resolve(), base.resolve())
    return f'<a href="{html.escape(relative)}">{html.escape(Path(path).name)}</a>'


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


def html_report(results: Sequence[ScenarioResult], base: Path, title: str = "ivr test") -> str:
    """The whole report as one page; links are relative to `base` (the report's folder)."""
    e = html.escape
    rows = []
    for index, result in enumerate(results):
        state = '<span class="ok">pass</span>' if result.ok else '<span class="fail">FAIL</span>'
        rows.append(f'<tr><td><a href="#s{index}">{e(result.scenario.name)}</a></td>'
                    f"<td>{e(result.runner)}</td><td>{state}</td>"
                    f"<td>{result.wall_seconds:.2f}s</td>"
                    f"<td>{_link(result.observed.recording, base)}</td>"
                    f"<td>{_link(result.observed.trace, base)}</td></tr>")
    sections = []
    for index, result in enumerate(results):
        seen = result.observed
        steps = "".join(
            f'<tr><td>{s.line}</td><td><code>{e(s.label)}</code></td>'
            f'<td class="{"ok" if s.ok else "fail"}">{"pass" if s.ok else "FAIL"}</td>'
            f"<td>{_seconds(s.at)}</td><td>{_seconds(s.took)}</td><td>{e(s.detail)}</td></tr>"
            for s in result.steps)
        error = f'<p class="fail">{e(seen.error)}</p>' if seen.error else ""
        heard = ", ".join(e(str(h)) for h in seen.heard) or "nothing"
        sections.append(
            f'<h2 id="s{index}">{e(result.scenario.name)} '
            f"<small>({e(result.scenario.file)}, {e(result.runner)})</small></h2>"
            f"<p>{e(result.scenario.description)}</p>{error}"
            "<table><tr><th>line</th><th>step</th><th>result</th><th>at</th><th>took</th>"
            f"<th>detail</th></tr>{steps}</table>"
            f"<details><summary>heard</summary><p>{heard}</p></details>"
            f"<p>recording: {_link(seen.recording, base)} · trace: {_link(seen.trace, base)}"
            f" · outcome: {e(seen.outcome or '-')}</p>")
    failed = sum(1 for r in results if not r.ok)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{e(title)}: "
            f"{len(results) - failed} passed, {failed} failed</h1>"
            "<table><tr><th>scenario</th><th>runner</th><th>result</th><th>time</th>"
            f"<th>recording</th><th>trace</th></tr>{''.join(rows)}</table>"
            f"{''.join(sections)}</body></html>\n")
