"""Render missing prompts from the manifest with espeak-ng, converted by sox for Asterisk.

Runs from the command line at build time, never on the event loop.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .prompts import PromptLibrary

RENDERED_LIST = ".rendered"
ESPEAK_VOICES = {"en": "en-us", "ko": "ko"}


@dataclass(frozen=True, slots=True)
class RenderResult:
    rendered: list[Path]
    kept: list[Path]
    """Files a person put there (not rendered by us): never overwritten."""


def _rendered_set(folder: Path) -> set[str]:
    listing = folder / RENDERED_LIST
    if not listing.exists():
        return set()
    return {line.strip() for line in listing.read_text().splitlines() if line.strip()}


def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"missing {', '.join(missing)}: install with `apt-get install espeak-ng sox`"
        )


def render_one(text: str, language: str, out: Path) -> None:
    """espeak-ng speaks at 22.05 kHz; sox resamples properly to 8 kHz 16-bit mono."""
    voice = ESPEAK_VOICES.get(language, language)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text],
                       check=True, capture_output=True)
        tmp_out = Path(tmp) / out.name
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed",
                        str(tmp_out)], check=True, capture_output=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp_out), out)


def build(library: PromptLibrary, languages: list[str] | None = None,
          force: bool = False) -> RenderResult:
    """Render every manifest prompt whose file is missing (or was rendered, with force)."""
    require_tools()
    rendered: list[Path] = []
    kept: list[Path] = []
    for prompt_id, texts in sorted(library.manifest.texts.items()):
        for language, text in sorted(texts.items()):
            if languages and language not in languages:
                continue
            folder = library.root / language
            ours = _rendered_set(folder)
            out = library.wav_path(prompt_id, language)
            present = library.files(prompt_id, language)
            if present and out.name not in ours:
                kept.extend(present)
                continue
            if present and not force:
                continue
            render_one(text, language, out)
            ours.add(out.name)
            (folder / RENDERED_LIST).write_text("".join(f"{n}\n" for n in sorted(ours)))
            rendered.append(out)
    return RenderResult(rendered, kept)
