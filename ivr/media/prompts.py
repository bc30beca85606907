"""Prompt lookup by language: manifest text, files on disk, and the URI Asterisk plays.

Asterisk sees the project's prompts/ folder as sounds/ivr/, so prompt `welcome` in Korean is
`sound:ivr/ko/welcome` and Asterisk chooses the best format present (wav, sln16, ulaw).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

AUDIO_EXTENSIONS = (".wav", ".sln16", ".sln", ".ulaw", ".alaw", ".gsm")


class PromptError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class PromptManifest:
    """prompts.yaml: prompt id -> {language: text}."""

    texts: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PromptManifest:
        if not path.exists():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise PromptError(f"{path}: expected a mapping of prompt id to texts")
        texts: dict[str, dict[str, str]] = {}
        for prompt_id, per_lang in data.items():
            if not isinstance(per_lang, dict):
                raise PromptError(f"{path}: prompt {prompt_id!r}: expected language: text pairs")
            texts[str(prompt_id)] = {str(lang): str(text) for lang, text in per_lang.items()}
        return cls(texts)

    def text(self, prompt_id: str, language: str) -> str | None:
        return self.texts.get(prompt_id, {}).get(language)


class PromptLibrary:
    """Answers 'what does the caller hear for prompt X in language L' for the app and tools."""

    def __init__(self, root: Path, sound_prefix: str = "ivr") -> None:
        self.root = root
        self.sound_prefix = sound_prefix
        self.manifest = PromptManifest.load(root / "prompts.yaml")

    def files(self, prompt_id: str, language: str) -> list[Path]:
        folder = self.root / language
        return [folder / f"{prompt_id}{ext}" for ext in AUDIO_EXTENSIONS
                if (folder / f"{prompt_id}{ext}").exists()]

    def has(self, prompt_id: str, language: str) -> bool:
        return bool(self.files(prompt_id, language))

    def wav_path(self, prompt_id: str, language: str) -> Path:
        return self.root / language / f"{prompt_id}.wav"

    def media_uri(self, prompt_id: str, language: str) -> str:
        return f"sound:{self.sound_prefix}/{language}/{prompt_id}"

    def text(self, prompt_id: str, language: str) -> str:
        return self.manifest.text(prompt_id, language) or f"[{prompt_id}]"
