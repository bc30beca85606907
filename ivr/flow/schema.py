"""The flow language's JSON Schema, and its errors in words an operations person can act on.

`flow.schema.json` (published as docs/flow.schema.json, so editors such as VS Code's YAML
extension can check flows while they are typed) is the single source of truth for which fields
each node takes and their types. jsonschema reports errors as keyword failures ("Additional
properties are not allowed"); this module turns each into a message naming the field, the
kind of node and, for typos, the field that was probably meant. Positions are added by the
loader, which knows where every key path sits in the YAML text.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

SCHEMA_FILE = Path(__file__).with_name("flow.schema.json")

_TYPE_WORDS = {"string": "text", "number": "a number", "integer": "a whole number",
               "boolean": "true/false", "array": "a list", "object": "a mapping",
               "null": "null"}


@dataclass(frozen=True, slots=True)
class SchemaIssue:
    """One schema violation: where (a key path of strings, as in the YAML) and what."""

    path: tuple[str, ...]
    message: str


@lru_cache(maxsize=1)
def flow_schema() -> dict[str, Any]:
    """The JSON Schema as a dict (read once; the file ships inside the package)."""
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(flow_schema())


def plain(value: Any) -> Any:
    """YAML data as JSON data: mapping keys as strings, dates as ISO text.

    YAML reads the menu key `1:` as the integer 1; people mean the key "1", and JSON Schema
    only knows string keys. (The loader keeps dates as text already; a date from another YAML
    loader becomes its ISO text here.)
    """
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    return value


def _key(key: Any) -> str:
    return key.isoformat() if isinstance(key, dt.date) else str(key)


def validate(data: Any) -> list[SchemaIssue]:
    """Every schema violation in `data` (already passed through `plain`), as issues."""
    errors = list(_validator().iter_errors(data))
    issues: list[SchemaIssue] = []
    seen: set[tuple[tuple[str, ...], str]] = set()
    # A typo shows up twice: as an unknown field and as a missing one. Say it once.
    extras: dict[tuple[str, ...], list[tuple[str, ValidationError]]] = {}
    missing: dict[tuple[str, ...], tuple[list[str], ValidationError]] = {}
    bad_keys: dict[tuple[str, ...], list[str]] = {}
    for error in errors:
        path = tuple(str(p) for p in error.absolute_path)
        if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
            bad_keys.setdefault(path, []).append(error.instance)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = _schema(error).get("properties", {})
            extras.setdefault(path, []).extend(
                (k, error) for k in error.instance if k not in allowed)
        elif error.validator == "required" and isinstance(error.instance, dict):
            names = [r for r in _expected(error) if r not in error.instance]
            missing[path] = (names, error)
        else:
            key = (path, str(error.validator))
            if key not in seen:
                seen.add(key)
                issues.append(_issue(error, path))
    for path, found in extras.items():
        names, _ = missing.get(path, ([], None))
        for extra, error in found:
            allowed = list(_schema(error).get("properties", {}))
            guess = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
            what = _title(_schema(error), path)
            message = f"unknown field {extra!r} in {what}"
            if guess:
                message += f"; did you mean {guess[0]!r}?"
                if guess[0] in names:
                    names.remove(guess[0])
            else:
                message += f" (fields: {', '.join(a for a in allowed if a != 'type')})"
            issues.append(SchemaIssue((*path, extra), message))
    for path, (names, error) in missing.items():
        # {curency: 5, unit: KRW}: the misspelt key is reported; "needs 'currency'" is noise.
        names = [n for n in names
                 if not difflib.get_close_matches(n, bad_keys.get(path, []), n=1, cutoff=0.6)]
        if names:
            quoted = " and ".join(repr(n) for n in names)
            issues.append(SchemaIssue(path, f"{_title(_schema(error), path)} needs {quoted}"))
    return issues


def _schema(error: ValidationError) -> dict[str, Any]:
    """The subschema that failed (jsonschema types it loosely: it may be a bool)."""
    return dict(error.schema) if isinstance(error.schema, Mapping) else {}


def _expected(error: ValidationError) -> Any:
    """The failed keyword's value (`["string", "object"]` for a type error)."""
    return error.validator_value


def _title(schema: dict[str, Any], path: tuple[str, ...]) -> str:
    title = schema.get("title")
    if not path:
        return "the flow (top level)"
    if isinstance(title, str):
        return f"{'an' if title[:1] in 'aeiou' else 'a'} {title}"
    return "this mapping"


def _label(error: ValidationError) -> str:
    """The field an error is about, as the person wrote it: 'timeout', 'prompts[2]'."""
    raw = list(error.absolute_path)
    if raw[:1] == ["nodes"] and len(raw) >= 2:
        raw = raw[2:]
        if not raw:
            return "the node"
    if not raw:
        return "the flow"
    text = ""
    for part in raw:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += f".{part}" if text else str(part)
    return repr(text) if "[" not in text else text


def _words(types: str | Sequence[str]) -> str:
    words = [_TYPE_WORDS.get(t, t) for t in ([types] if isinstance(types, str) else types)]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _actual(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "empty" if value is None else type(value).__name__


def _options(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) if v == "" else str(v) for v in values)


def _issue(error: ValidationError, path: tuple[str, ...]) -> SchemaIssue:
    kind = error.validator
    hint = _schema(error).get("errorMessage")
    expected = _expected(error)
    label = _label(error)
    value = error.instance
    if "propertyNames" in error.absolute_schema_path and isinstance(value, str):
        # A bad key: jsonschema reports it on the mapping; point at the key itself.
        key_path = (*path, value)
        if kind == "enum":
            guess = difflib.get_close_matches(value, [str(v) for v in expected], 1)
            tip = f"; did you mean {guess[0]!r}?" if guess else ""
            return SchemaIssue(key_path, f"unknown key {value!r} (one of "
                                         f"{_options(expected)}){tip}")
        return SchemaIssue(key_path, f"{value!r} is not allowed here: {hint or error.message}")
    if kind == "type":
        if path[:1] == ("nodes",) and len(path) == 2:
            return SchemaIssue(path, "a node must be a mapping with a 'type', "
                                     f"not {_actual(value)}")
        tip = ("; quote it: YAML reads yes, no, on and off as true/false"
               if isinstance(value, bool) and "string" in expected else "")
        return SchemaIssue(path, f"{label} must be {_words(expected)}, "
                                 f"not {_actual(value)}{tip}")
    if kind == "enum":
        if len(path) == 3 and path[0] == "nodes" and path[2] == "type":
            guess = difflib.get_close_matches(str(value), expected, 1)
            tip = f"; did you mean {guess[0]!r}?" if guess else ""
            return SchemaIssue(path, f"unknown node type {value!r} (one of "
                                     f"{_options(expected)}){tip}")
        return SchemaIssue(path, f"{label} must be one of {_options(expected)}, "
                                 f"not {value!r}")
    if kind == "pattern":
        return SchemaIssue(path, f"{label}: {hint or 'invalid format'} (not {value!r})")
    if kind in ("minItems", "minProperties", "minLength") and not hint:
        return SchemaIssue(path, f"{label} is empty")
    if kind in ("minimum", "exclusiveMinimum"):
        bound = expected
        words = f"at least {bound}" if kind == "minimum" else f"more than {bound}"
        return SchemaIssue(path, f"{label} must be {words}, not {value!r}")
    if kind == "uniqueItems":
        return SchemaIssue(path, f"{label} lists the same value twice")
    if hint:
        return SchemaIssue(path, f"{label}: {hint}")
    return SchemaIssue(path, f"{label}: {_clean(error.message)}")


def _clean(message: str) -> str:
    return re.sub(r"\s+", " ", message)[:200]
