"""The Vosk models the project expects, and a check of one a user downloaded (`ivr models`).

No model can be downloaded from the project's machines (and `vosk.Model(lang=...)` would
try): a user fetches the zip elsewhere, copies it over, unzips it and points the app at the
folder. This module says which models, where they come from, and whether what arrived is one:
the files Vosk reads (its model.cc, "V2" layout), the size the models page lists, and the
zip's SHA-256 (the models page publishes none, so the check prints it for the user to compare
with the one they recorded when downloading, or checks the one given with --sha256). Which
setting points the app at a folder is the app's business: `catalog_text` is told its name.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

MODELS_PAGE = "https://alphacephei.com/vosk/models"
_MB = 1_000_000


@dataclass(frozen=True)
class VoskModel:
    name: str
    language: str  # the flow language that uses it
    zip_mb: float  # as listed on the models page
    licence: str
    note: str

    @property
    def url(self) -> str:
        return f"{MODELS_PAGE}/{self.name}.zip"


MODELS = (
    VoskModel("vosk-model-small-en-us-0.15", "en", 40, "Apache-2.0",
              "16 kHz US English; takes a phrase list with [unk]"),
    VoskModel("vosk-model-small-ko-0.22", "ko", 82, "Apache-2.0",
              "16 kHz Korean; takes a phrase list, but has no [unk]: it cannot reject "
              "speech outside the menu, so rely on the confidence threshold"),
)

_REQUIRED = ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf")
_LOOKAHEAD = ("graph/HCLr.fst", "graph/Gr.fst", "graph/disambig_tid.int")
_USEFUL = ("graph/phones/word_boundary.int", "ivector/final.ie")


@dataclass
class ModelReport:
    """What `ivr models check` found: `errors` make the model unusable, `warnings` do not."""

    path: Path
    size_bytes: int = 0
    sha256: str | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _layout_problems(files: set[str]) -> tuple[list[str], list[str]]:
    """(errors, warnings) for a model whose relative file paths are `files`."""
    errors = [f"missing {name}" for name in _REQUIRED if name not in files]
    lookahead = all(name in files for name in _LOOKAHEAD)
    if not lookahead and "graph/HCLG.fst" not in files:
        errors.append("no decoding graph (graph/HCLG.fst, or graph/HCLr.fst + graph/Gr.fst + "
                      "graph/disambig_tid.int)")
    elif not lookahead:
        errors.append("graph/HCLG.fst only: a static graph ignores the menu's phrase list "
                      "(use a small model, which has HCLr.fst + Gr.fst)")
    warnings = [f"no {name} (Vosk runs, less well)" for name in _USEFUL if name not in files]
    return errors, warnings


def model_problems(path: Path) -> list[str]:
    """Why the folder is not a Vosk model the engine can use ([] when it is)."""
    if not path.exists():
        return ["the path does not exist"]
    if not path.is_dir():
        return ["it is not a directory (unzip the model first)"]
    files = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    errors, _ = _layout_problems(files)
    inner = [d for d in path.iterdir() if d.is_dir() and (d / "am" / "final.mdl").is_file()]
    if errors and inner:
        errors.append(f"the model is one level down: use {inner[0]}")
    return errors


def _expected(name: str) -> VoskModel | None:
    return next((m for m in MODELS if name.startswith(m.name)), None)


def _size_note(report: ModelReport, name: str, what: str) -> None:
    model = _expected(name)
    mb = report.size_bytes / _MB
    report.notes.append(f"{what} size {mb:.1f} MB")
    if model is not None and what == "zip" and not 0.85 <= mb / model.zip_mb <= 1.15:
        report.warnings.append(f"{model.name}.zip is listed at about {model.zip_mb:.0f} MB, "
                               f"this one is {mb:.1f} MB: a partial or different download?")


def check_dir(path: Path) -> ModelReport:
    report = ModelReport(path)
    report.errors = model_problems(path)
    if path.is_dir():
        files = {p.relative_to(path).as_posix(): p.stat().st_size
                 for p in path.rglob("*") if p.is_file()}
        report.warnings = _layout_problems(set(files))[1]
        report.size_bytes = sum(files.values())
        _size_note(report, path.name, "unpacked")
        if report.size_bytes < 10 * _MB:
            report.errors.append(f"only {report.size_bytes / _MB:.1f} MB: not a whole model")
    return report


def check_zip(path: Path, sha256: str | None = None) -> ModelReport:
    report = ModelReport(path, size_bytes=path.stat().st_size)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    report.sha256 = digest.hexdigest()
    if sha256 and sha256.lower() != report.sha256:
        report.errors.append(f"sha256 {report.sha256} is not the expected {sha256.lower()}")
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile as exc:
        report.errors.append(f"not a zip file: {exc}")
        return report
    tops = {n.split("/", 1)[0] for n in names}
    top = tops.pop() if len(tops) == 1 else ""
    inside = {n.split("/", 1)[1] for n in names if "/" in n} if top else set(names)
    errors, warnings = _layout_problems(inside)
    report.errors += errors
    report.warnings += warnings
    _size_note(report, top or path.stem, "zip")
    if top:
        report.notes.append(f"unzips to {top}/")
    return report


def catalog_text(setting: Callable[[str], str]) -> str:
    """The models, with `setting(language)` the variable that points the app at one."""
    lines = [
        "Vosk models (none ships with the vosk wheel, and none can be downloaded from this",
        "machine: fetch the zip elsewhere, copy it here, check it, unzip it, configure it).",
        f"Official models page: {MODELS_PAGE}", "",
    ]
    for m in MODELS:
        lines += [f"{m.name}  [{m.language}]  zip about {m.zip_mb:.0f} MB, {m.licence}",
                  f"    {m.note}", f"    download: {m.url}",
                  f"    then:     ivr models check {m.name}.zip && unzip {m.name}.zip",
                  f"              {setting(m.language)}=/path/to/{m.name}", ""]
    lines.append("Without a Vosk model, pocketsphinx (English, in its wheel) works out of the box.")
    return "\n".join(lines)


def report_text(report: ModelReport) -> Iterable[str]:
    yield f"{report.path}: {'OK' if report.ok else 'NOT USABLE'}"
    yield from (f"  {n}" for n in report.notes)
    if report.sha256:
        yield f"  sha256 {report.sha256}"
    yield from (f"  error: {e}" for e in report.errors)
    yield from (f"  warning: {w}" for w in report.warnings)
