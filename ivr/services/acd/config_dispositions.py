"""Reading the wrap-up dispositions of flows/queues.yaml: the codes an agent gives a call.

    dispositions:              # code -> label, in the order the desktop offers them
      resolved: Resolved
      follow_up: Needs a follow-up
    queues:
      billing:
        dispositions: [resolved, follow_up]   # only these for this queue's calls

The codes are what reporting groups calls by, so they are data the operations staff keep with
the queues, checked with the rest of the file (file:line:col) and reloaded with it. Without the
block the codes of config.DEFAULT_DISPOSITIONS apply; a queue without a list offers every
code. A code is short lowercase text (it is stored with each wrap-up and typed into reports);
a label is what the agent reads in a select, so it is kept to one short line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from typing import Any

from ...flow.source import KeyPath
from .config import DEFAULT_DISPOSITIONS
from .config_callback import Reader

__all__ = ["DEFAULT_DISPOSITIONS", "MAX_LABEL", "read_dispositions", "read_queue_dispositions"]

_CODE = re.compile(r"[a-z0-9_]{1,32}")
_CODE_RULE = "1 to 32 of a-z, 0-9 and _"
MAX_LABEL = 80
_PATH: KeyPath = ("dispositions",)


def read_dispositions(reader: Reader, raw: Any) -> tuple[Mapping[str, str], Collection[str] | None]:
    """The block's code -> label map (the defaults when the block is absent or empty-valued),
    and the codes a queue's list may name.

    Those are every code written in the block, good or bad, so a bad label is reported once and
    not again at each queue naming its code; None when the block is not a mapping, and then no
    queue's list is checked against it (as a broken `agents` does not cascade into members).
    """
    if raw is None:
        return DEFAULT_DISPOSITIONS, DEFAULT_DISPOSITIONS.keys()
    data = reader.mapping(raw, _PATH, "'dispositions'")
    if data is None:
        return DEFAULT_DISPOSITIONS, None
    if not data:
        reader.report(_PATH, "'dispositions' has no codes; leave it out for the default ones "
                             f"({', '.join(DEFAULT_DISPOSITIONS)})")
    for code in data:
        if not _CODE.fullmatch(code):
            reader.report((*_PATH, code), f"disposition code {code!r} must be {_CODE_RULE}")
    labels = reader.scalars(data, _PATH, dict.fromkeys(data, ("text", 0, 0)), False)
    for code, label in labels.items():
        if len(label) > MAX_LABEL:
            reader.report((*_PATH, code), f"the label of disposition {code!r} must be at most "
                                          f"{MAX_LABEL} characters, not {len(label)}")
    return {code: str(label) for code, label in labels.items()}, list(data)


def read_queue_dispositions(reader: Reader, data: Mapping[str, Any], path: KeyPath,
                            known: Collection[str] | None) -> tuple[str, ...]:
    """A queue's `dispositions` list: distinct codes, each one of the top-level block's (not
    checked when `known` is None: that block is broken and already reported)."""
    here = (*path, "dispositions")
    if "dispositions" not in data or data["dispositions"] is None:
        return ()
    items = data["dispositions"]
    if not isinstance(items, list):
        reader.report(here, "'dispositions' must be a list of disposition codes")
        return ()
    if not items:
        reader.report(here, "'dispositions' lists no codes; leave it out for every code")
    out: list[str] = []
    for index, item in enumerate(items):
        where = (*here, str(index))
        if not isinstance(item, str) or not _CODE.fullmatch(item):
            reader.report(where, f"{item!r} is not a disposition code ({_CODE_RULE})")
        elif item in out:
            reader.report(where, f"'dispositions' lists {item!r} twice")
        elif known is not None and item not in known:
            guess = difflib.get_close_matches(item, list(known), n=1, cutoff=0.6)
            reader.report(where, f"unknown disposition {item!r}" + (
                f"; did you mean {guess[0]!r}?" if guess
                else f" (the top-level 'dispositions' has {', '.join(known)})"))
        else:
            out.append(item)
    return tuple(out)
