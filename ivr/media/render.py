"""Render the manifest's prompts with espeak-ng, converted by sox into what Asterisk plays best.

Runs from the command line at build time (`ivr prompts build`), never on the event loop.

Each prompt becomes `<id>.wav` (8 kHz 16-bit mono: narrowband channels play it untranscoded)
and `<id>.sln16` (16 kHz raw signed 16-bit little-endian mono: wideband channels get the
better one, since Asterisk picks the cheapest format to translate for each channel). Leading
and trailing silence is trimmed to a short pad, so vocabulary words played back to back
("twenty" "six") do not drag.

Recorded prompts always win, and git keeps them apart from rendered ones:
- `prompts/<lang>/.rendered.json` records what we rendered: per id the hash of the text and
  pipeline it came from, and the hash of every file we wrote. A file we did not write (or one
  we wrote whose bytes changed since: a person copied a recording over it) is a recording.
- A recording of an id in any format makes every rendered format of that id stale, and it is
  removed: otherwise Asterisk could still prefer our `.sln16` to the person's `.wav`.
- `prompts/<lang>/.gitignore` lists exactly the files we rendered (and itself and the state
  file), so rendered audio is never committed and a recording shows up in `git status`.
- A changed text (or voice or pipeline) re-renders; ids gone from the manifest lose their
  rendered files.

espeak-ng and sox are fast (tens of ms a prompt) but a build is hundreds of process pairs, so
prompts render on a small thread pool of subprocesses (about 2.5 s for ~270 prompts on 2 CPUs,
6 s one at a time). Finished prompts are put in place and the state saved twice a second and on
any exit, so an interrupted build leaves no rendered file that looks like a recording.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from .prompts import AUDIO_EXTENSIONS, PromptLibrary

ESPEAK_VOICES = {"en": "en-us", "ko": "ko"}
ESPEAK_SPEED = "150"  # words per minute; espeak's 175 is hurried for a phone line
TRIM = ("silence", "1", "0.01", "-55d", "reverse", "silence", "1", "0.01", "-55d", "reverse",
        "pad", "0.02", "0.08")
"""sox effects: cut silence at both ends (espeak leaves ~0.3 s after every word), keep a pad."""
FORMATS: dict[str, tuple[str, ...]] = {
    ".wav": ("-t", "wav", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"),
    ".sln16": ("-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
               "-L"),
}
PIPELINE = f"espeak-ng -s {ESPEAK_SPEED} | sox {' '.join(TRIM)} | {' '.join(FORMATS)} | v2"
"""Part of every prompt's source hash: change it and everything re-renders."""

SAVE_EVERY = 0.5  # seconds between state saves while rendering
STATE_FILE = ".rendered.json"
GITIGNORE = ".gitignore"
LEGACY_LIST = ".rendered"  # before .rendered.json: names of the .wav files we rendered
GITIGNORE_HEADER = (
    "# Written by `ivr prompts build`: the prompts it rendered with espeak-ng, never committed.\n"
    "# A recording dropped in here is not listed, so git sees it; it replaces the rendered one.\n"
)


class RenderError(RuntimeError):
    pass


@dataclass(slots=True)
class RenderResult:
    rendered: list[Path] = field(default_factory=list)
    """One path per prompt rendered: prompts/<lang>/<id>.wav (its .sln16 sits next to it)."""
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    """Files a person put there (not rendered by us): never overwritten."""
    removed: list[Path] = field(default_factory=list)
    """Rendered files made stale by a recording, or whose id left the manifest."""
    seconds: float = 0.0
    workers: int = 0

    def summary(self) -> str:
        return (f"rendered {len(self.rendered)} prompt(s) ({len(self.written)} files) in "
                f"{self.seconds:.1f} s with {self.workers} worker(s); kept {len(self.kept)} "
                f"recorded file(s); removed {len(self.removed)} stale rendered file(s)")


def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise RenderError(
            f"missing {', '.join(missing)}: install with `apt-get install espeak-ng sox`"
        )


def voice(language: str) -> str:
    return ESPEAK_VOICES.get(language, language)


def source_hash(text: str, language: str) -> str:
    """What a rendered file depends on: change any of it and the prompt is rendered again."""
    return _sha(f"{PIPELINE}\0{voice(language)}\0{text}".encode())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render_audio(text: str, language: str) -> dict[str, bytes]:
    """Speak `text` and return the bytes of every format in FORMATS, by extension."""
    speech = _run(["espeak-ng", "-v", voice(language), "-s", ESPEAK_SPEED, "--stdout"],
                  text.encode("utf-8"))
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="ivr-render-") as tmp:
        for ext, options in FORMATS.items():
            target = Path(tmp) / f"speech{ext}"  # sox rewrites the WAV header: needs a file
            _run(["sox", "-t", "wav", "-", *options, str(target), *TRIM], speech)
            out[ext] = target.read_bytes()
    return out


def _run(command: list[str], stdin: bytes) -> bytes:
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, check=True)
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip()
        raise RenderError(f"{command[0]} failed ({exc.returncode}): {detail}") from exc
    return done.stdout


@dataclass(slots=True)
class _Entry:
    source: str
    files: dict[str, str | None]
    """File name -> sha256 of the bytes we wrote (None: migrated from .rendered, unknown)."""


class _Folder:
    """The rendered-state of one prompts/<lang>/ folder: .rendered.json and .gitignore."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, _Entry] = {}
        self.legacy = path / LEGACY_LIST
        state = path / STATE_FILE
        if state.exists():
            try:
                data = json.loads(state.read_text(encoding="utf-8"))
                for pid, raw in data["prompts"].items():
                    self.entries[pid] = _Entry(str(raw["source"]), dict(raw["files"]))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise RenderError(f"{state}: unreadable ({exc}); delete it and the rendered "
                                  "files it lists, then build again") from exc
        if self.legacy.exists():
            for name in self.legacy.read_text(encoding="utf-8").split():
                pid = Path(name).stem
                entry = self.entries.setdefault(pid, _Entry("", {}))
                entry.files.setdefault(name, None)

    def ours(self, pid: str) -> tuple[set[str], set[str]]:
        """(files of `pid` on disk that we wrote, listed files whose bytes a person replaced)."""
        entry = self.entries.get(pid)
        if entry is None:
            return set(), set()
        mine: set[str] = set()
        replaced: set[str] = set()
        for name, sha in entry.files.items():
            file = self.path / name
            if not file.exists():
                continue
            if sha is None or _sha(file.read_bytes()) == sha:
                mine.add(name)
            else:
                replaced.add(name)
        return mine, replaced

    def forget(self, pid: str, result: RenderResult) -> None:
        """Delete our rendered files of `pid` (a recording replaces them, or the id is gone)."""
        mine, _ = self.ours(pid)
        for name in sorted(mine):
            (self.path / name).unlink()
            result.removed.append(self.path / name)
        self.entries.pop(pid, None)

    def place(self, pid: str, source: str, audio: dict[str, bytes]) -> list[Path]:
        """Move rendered audio into place atomically and record it.

        Formats we rendered before but no longer produce are deleted, not left behind
        unlisted (where they would pass for recordings).
        """
        mine, _ = self.ours(pid)
        for name in mine - {f"{pid}{ext}" for ext in audio}:
            (self.path / name).unlink()
        files: dict[str, str | None] = {}
        paths: list[Path] = []
        for ext, data in audio.items():
            final = self.path / f"{pid}{ext}"
            part = self.path / f".{pid}{ext}.part"
            part.write_bytes(data)
            os.replace(part, final)
            files[final.name] = _sha(data)
            paths.append(final)
        self.entries[pid] = _Entry(source, files)
        return paths

    def save(self) -> None:
        state = {"version": 1, "prompts": {
            pid: {"source": e.source, "files": dict(sorted(e.files.items()))}
            for pid, e in sorted(self.entries.items())}}
        _write_atomic(self.path / STATE_FILE, json.dumps(state, indent=1, ensure_ascii=False))
        names = sorted({name for e in self.entries.values() for name in e.files}
                       | {GITIGNORE, STATE_FILE})
        _write_atomic(self.path / GITIGNORE, GITIGNORE_HEADER + "".join(f"{n}\n" for n in names))
        if self.legacy.exists():
            self.legacy.unlink()


def _write_atomic(path: Path, text: str) -> None:
    part = path.with_name(f"{path.name}.part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


@dataclass(frozen=True, slots=True)
class _Job:
    folder: _Folder
    language: str
    prompt_id: str
    text: str
    source: str


def _plan(library: PromptLibrary, language: str, force: bool,
          result: RenderResult) -> Iterator[_Job]:
    """Decide, for one language, what is kept, what goes, and what must be rendered."""
    folder = _Folder(library.root / language)
    folder.path.mkdir(parents=True, exist_ok=True)
    for leftover in folder.path.glob(".*.part"):  # from a build killed mid-write
        leftover.unlink()
    wanted = {pid: texts[language] for pid, texts in library.manifest.texts.items()
              if language in texts}
    for pid in sorted(folder.entries.keys() - wanted.keys()):
        folder.forget(pid, result)
    for pid, text in sorted(wanted.items()):
        mine, replaced = folder.ours(pid)
        recorded = [f for f in library.files(pid, language) if f.name not in mine]
        if recorded:
            result.kept.extend(recorded)
            if pid in folder.entries:
                folder.entries[pid].files = {n: s for n, s in folder.entries[pid].files.items()
                                             if n not in replaced}
            folder.forget(pid, result)
            continue
        source = source_hash(text, language)
        entry = folder.entries.get(pid)
        complete = all(f"{pid}{ext}" in mine for ext in FORMATS)
        if force or entry is None or entry.source != source or not complete:
            yield _Job(folder, language, pid, text, source)
    folder.save()


def default_workers() -> int:
    """Processes are CPU-bound but short-lived; a little more than the CPUs hides start-up."""
    return min(8, (os.cpu_count() or 1) + 2)


def build(library: PromptLibrary, languages: list[str] | None = None,
          force: bool = False, workers: int | None = None) -> RenderResult:
    """Render every manifest prompt that has no recording and no up-to-date rendering."""
    require_tools()
    started = time.monotonic()
    result = RenderResult(workers=workers or default_workers())
    jobs = [job for language in (languages or library.languages())
            for job in _plan(library, language, force, result)]
    folders = {id(job.folder): job.folder for job in jobs}
    pool = ThreadPoolExecutor(max_workers=result.workers)
    try:
        futures = {pool.submit(render_audio, job.text, job.language): job for job in jobs}
        pending: set[Future[dict[str, bytes]]] = set(futures)
        while pending:
            # Place what is done about twice a second and save the state then: few writes,
            # and an interrupted build has recorded every file it put in place.
            done, pending = wait(pending, timeout=SAVE_EVERY, return_when=FIRST_EXCEPTION)
            for future in sorted(done, key=lambda f: futures[f].prompt_id):
                job = futures[future]
                try:
                    audio = future.result()
                except RenderError as exc:
                    raise RenderError(f"prompt {job.prompt_id!r} ({job.language}): "
                                      f"{exc}") from exc
                result.written.extend(job.folder.place(job.prompt_id, job.source, audio))
                result.rendered.append(job.folder.path / f"{job.prompt_id}.wav")
            for folder in {id(futures[f].folder): futures[f].folder for f in done}.values():
                folder.save()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for folder in folders.values():
            folder.save()
    result.seconds = time.monotonic() - started
    return result


__all__ = ["AUDIO_EXTENSIONS", "FORMATS", "RenderError", "RenderResult", "build",
           "render_audio", "require_tools"]
