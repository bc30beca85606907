"""Prompt lookup by language: manifest text, files on disk, and the URI Asterisk plays.

Asterisk sees the project's prompts/ folder as sounds/ivr/, so prompt `welcome` in Korean is
`sound:ivr/ko/welcome` and Asterisk chooses the best format present (sln16, wav, ulaw...).

The manifest is every `prompts/*.yaml` file (id -> {language: text}), read in name order, so
separate concerns live in separate files (`prompts.yaml` for the flows' sentences,
`numbers.yaml` for the vocabulary `say` composes numbers, dates and times from) without two
people editing one file. An id may get its languages from different files, but one id in one
language has exactly one source: a second definition is an error naming both files, since
silently preferring one would make the other a trap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

AUDIO_EXTENSIONS = (".wav", ".sln16", ".sln", ".ulaw", ".alaw", ".g722", ".gsm")
"""Formats Asterisk can play from a prompt folder; any of them counts as the prompt existing."""

PROMPT_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
"""Ids become file names (and .gitignore lines), so no slashes, spaces or glob characters."""


class PromptError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class PromptManifest:
    """Every prompts/*.yaml merged: prompt id -> {language: text}, and where each came from."""

    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[tuple[str, str], Path] = field(default_factory=dict)
    """(id, language) -> the file that defines it, for error messages."""

    @classmethod
    def load(cls, path: Path) -> PromptManifest:
        """Load a prompts folder (every *.yaml in it, sorted by name) or a single manifest file."""
        if path.is_dir():
            files = sorted(path.glob("*.yaml"))
        else:
            files = [path] if path.exists() else []
        texts: dict[str, dict[str, str]] = {}
        sources: dict[tuple[str, str], Path] = {}
        for file in files:
            for prompt_id, per_lang in _read(file).items():
                for language, text in per_lang.items():
                    first = sources.get((prompt_id, language))
                    if first is not None:
                        raise PromptError(
                            f"prompt {prompt_id!r} ({language}) is defined twice: in {first} "
                            f"and in {file}; keep one"
                        )
                    sources[(prompt_id, language)] = file
                    texts.setdefault(prompt_id, {})[language] = text
        return cls(texts, sources)

    def text(self, prompt_id: str, language: str) -> str | None:
        return self.texts.get(prompt_id, {}).get(language)

    def languages(self) -> list[str]:
        return sorted({lang for per_lang in self.texts.values() for lang in per_lang})


def _read(file: Path) -> dict[str, dict[str, str]]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PromptError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptError(f"{file}: expected a mapping of prompt id to texts")
    out: dict[str, dict[str, str]] = {}
    for prompt_id, per_lang in data.items():
        name = str(prompt_id)
        if not PROMPT_ID.fullmatch(name):
            raise PromptError(f"{file}: prompt id {name!r}: use letters, digits, '-', '_', '.'")
        if not isinstance(per_lang, dict):
            raise PromptError(f"{file}: prompt {name!r}: expected language: text pairs")
        for language, text in per_lang.items():
            if text is None or isinstance(text, (dict, list)) or str(text).strip() == "":
                raise PromptError(f"{file}: prompt {name!r} ({language}): expected a text")
        out[name] = {str(lang): str(text) for lang, text in per_lang.items()}
    return out


class PromptLibrary:
    """Answers 'what does the caller hear for prompt X in language L' for the app and tools."""

    def __init__(self, root: Path, sound_prefix: str = "ivr") -> None:
        self.root = root
        self.sound_prefix = sound_prefix
        self.manifest = PromptManifest.load(root)

    def files(self, prompt_id: str, language: str) -> list[Path]:
        """Every playable file of the prompt, recorded or rendered, in AUDIO_EXTENSIONS order."""
        folder = self.root / language
        return [folder / f"{prompt_id}{ext}" for ext in AUDIO_EXTENSIONS
                if (folder / f"{prompt_id}{ext}").exists()]

    def has(self, prompt_id: str, language: str) -> bool:
        return bool(self.files(prompt_id, language))

    def missing(self, prompt_ids: Iterable[str], language: str) -> list[str]:
        """The ids (in the order given, once each) with no playable file in `language`."""
        return [p for p in dict.fromkeys(prompt_ids) if not self.has(p, language)]

    def languages(self) -> list[str]:
        """Languages the manifest has texts for."""
        return self.manifest.languages()

    def wav_path(self, prompt_id: str, language: str) -> Path:
        return self.root / language / f"{prompt_id}.wav"

    def media_uri(self, prompt_id: str, language: str) -> str:
        return f"sound:{self.sound_prefix}/{language}/{prompt_id}"

    def text(self, prompt_id: str, language: str) -> str:
        return self.manifest.text(prompt_id, language) or f"[{prompt_id}]"
