"""The flow model: plain frozen dataclasses the loader builds and the interpreter walks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Say:
    """One item of a prompt list: a recorded prompt by id, or a value spoken as digits.

    `value` may reference variables as ${name}.
    """

    kind: str  # "prompt" | "digits"
    value: str


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class PlayNode(Node):
    prompts: tuple[Say, ...] = ()
    next: str | None = None
    barge_in: bool = False


@dataclass(frozen=True, slots=True)
class MenuNode(Node):
    prompt: tuple[Say, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    timeout: float = 5.0
    attempts: int = 3
    no_input: tuple[Say, ...] = ()
    no_match: tuple[Say, ...] = ()
    fallback: str = ""
    store: str | None = None
    """Variable that receives the key pressed."""


@dataclass(frozen=True, slots=True)
class HangupNode(Node):
    pass


AnyNode = PlayNode | MenuNode | HangupNode


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    version: str
    languages: tuple[str, ...]
    default_language: str
    entry: str
    nodes: dict[str, AnyNode]
    source: str = ""
