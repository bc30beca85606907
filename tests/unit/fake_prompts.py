"""A prompts folder for tests that need the real prompt ids but not the rendered audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def fake_prompts(root: Path) -> Path:
    """The real manifests, with a dummy file for every prompt in both languages."""
    root.mkdir()
    for manifest in (ROOT / "prompts").glob("*.yaml"):
        shutil.copy(manifest, root / manifest.name)
        for prompt_id, texts in yaml.safe_load(manifest.read_text(encoding="utf-8")).items():
            for language in texts:
                (root / language).mkdir(exist_ok=True)
                (root / language / f"{prompt_id}.wav").write_bytes(b"RIFF-dummy")
    return root
