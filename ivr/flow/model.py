"""The flow model: plain frozen dataclasses the loader builds and the interpreter walks.

Every node records the line of its id in the source file so the checker and the runtime can
point a person at it. Strings that hold expressions or ${var} templates stay strings here; the
interpreter evaluates them (see expr.py), the checker analyses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAY_KINDS = ("prompt", "digits", "number", "currency", "date", "time")


@dataclass(frozen=True, slots=True)
class Say:
    """One item of a prompt list.

    kind "prompt": `value` is a prompt id (may contain ${var}); the other kinds speak `value`
    (a ${var} template) per the caller's language: digits one by one, a cardinal number,
    an amount of money, an ISO date (YYYY-MM-DD) or a time (HH:MM).
    """

    kind: str
    value: str
    unit: str = ""
    """currency only: an ISO code (KRW, USD) or a ${var} template giving one. Empty: the
    caller's language's own currency. A balance held in won must say `unit` explicitly, or an
    English caller hears it in dollars."""


Prompts = tuple[Say, ...]


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    line: int = 0
    column: int = 0


@dataclass(frozen=True, slots=True)
class PlayNode(Node):
    prompts: Prompts = ()
    next: str | None = None
    barge_in: bool = False


@dataclass(frozen=True, slots=True)
class MenuOption:
    target: str
    phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Language -> what a caller may say instead of pressing the key; a menu with phrases
    listens in those languages (the flow's `speech` names each language's engine)."""


@dataclass(frozen=True, slots=True)
class Escalation:
    """VoiceXML-style handlers: entry N is played on the Nth no-input (or no-match);
    the last entry repeats. After `attempts` failures the menu goes to `fallback`."""

    no_input: tuple[Prompts, ...] = ()
    no_match: tuple[Prompts, ...] = ()
    attempts: int = 3
    fallback: str = ""

    def handler(self, kind: str, count: int) -> Prompts:
        handlers = self.no_input if kind == "no_input" else self.no_match
        if not handlers:
            return ()
        return handlers[min(count, len(handlers)) - 1]


@dataclass(frozen=True, slots=True)
class MenuNode(Node):
    prompt: Prompts = ()
    reprompt: Prompts = ()
    """Played instead of `prompt` on the second and later attempts (empty: `prompt` again)."""
    options: dict[str, MenuOption] = field(default_factory=dict)
    """Key ("0"-"9", "*", "#") -> option."""
    timeout: float = 5.0
    barge_in: bool = True
    store: str | None = None
    """Variable that receives the key chosen."""
    escalation: Escalation = field(default_factory=Escalation)
    confidence: float = 0.5
    """Speech heard with less confidence is a no-match."""

    def listens_in(self, language: str) -> bool:
        return any(option.phrases.get(language) for option in self.options.values())

    def grammar(self, language: str) -> dict[str, str]:
        """Phrase -> the key it stands for, in `language`."""
        return {phrase: key for key, option in self.options.items()
                for phrase in option.phrases.get(language, ())}


@dataclass(frozen=True, slots=True)
class CollectNode(Node):
    prompt: Prompts = ()
    store: str = ""
    min_length: int = 1
    max_length: int = 20
    terminator: str = "#"
    first_digit_timeout: float = 5.0
    inter_digit_timeout: float = 3.0
    barge_in: bool = True
    secure: bool = False
    """The value is masked as '***' in every log line, trace and record."""
    readback: Prompts = ()
    """If set, played after a valid entry (e.g. [you-entered, {digits: ${acct}}])..."""
    confirm: Prompts = ()
    """...then this confirm prompt: 1 accepts, 2 re-enters (counts as a no-match attempt)."""
    next: str = ""
    escalation: Escalation = field(default_factory=Escalation)
    speech: bool = False
    """The caller may also say the digits ("one two three four"); never for a secure one."""
    confidence: float = 0.5


@dataclass(frozen=True, slots=True)
class SetNode(Node):
    values: dict[str, str] = field(default_factory=dict)
    """Variable -> expression."""
    next: str = ""


@dataclass(frozen=True, slots=True)
class Condition:
    when: str
    """An expression (expr.py)."""
    target: str


@dataclass(frozen=True, slots=True)
class BranchNode(Node):
    conditions: tuple[Condition, ...] = ()
    otherwise: str = ""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Business hours as data: weekly opening intervals and holidays, in a time zone."""

    timezone: str = "UTC"
    weekly: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """'mon'..'sun' -> (("09:00", "18:00"), ...)."""
    holidays: tuple[str, ...] = ()
    """ISO dates (YYYY-MM-DD) on which the whole day is closed."""


@dataclass(frozen=True, slots=True)
class HoursNode(Node):
    schedule: Schedule = field(default_factory=Schedule)
    open: str = ""
    closed: str = ""
    holiday: str = ""
    """Target on a holiday; empty means `closed`."""


@dataclass(frozen=True, slots=True)
class HttpNode(Node):
    url: str = ""
    """A ${var} template."""
    method: str = "GET"
    body: dict[str, str] = field(default_factory=dict)
    """JSON body: field -> expression."""
    timeout: float = 3.0
    retries: int = 1
    results: dict[str, str] = field(default_factory=dict)
    """Variable -> dotted path into the JSON response (e.g. 'data.balance')."""
    next: str = ""
    fallback: str = ""
    """Taken when every try failed (timeout, connection, status >= 400, bad JSON)."""


@dataclass(frozen=True, slots=True)
class LanguageNode(Node):
    language: str = ""
    """A language code or a ${var} template."""
    next: str = ""


@dataclass(frozen=True, slots=True)
class SubflowNode(Node):
    flow: str = ""
    """The name of another flow (its file's `name`)."""
    params: dict[str, str] = field(default_factory=dict)
    """Subflow variable -> expression evaluated in the caller."""
    returns: dict[str, str] = field(default_factory=dict)
    """Caller variable -> subflow variable, copied back on return."""
    next: str = ""


@dataclass(frozen=True, slots=True)
class ReturnNode(Node):
    """Ends a subflow; the caller continues at its subflow node's `next`."""


@dataclass(frozen=True, slots=True)
class GotoNode(Node):
    target: str = ""


@dataclass(frozen=True, slots=True)
class HangupNode(Node):
    prompts: Prompts = ()
    """Played before hanging up (optional)."""


@dataclass(frozen=True, slots=True)
class ActionNode(Node):
    """Asks a service (actions.py) and branches on its answer: `on` maps outcomes to nodes.

    `results` (variable here <- result field) are set on every `on` edge, a missing field as
    null; `fallback` is taken when the action fails (ActionError, timeout, not configured) or
    answers an outcome `on` does not name, and sets nothing.
    """

    action: str = ""
    """Dotted name, e.g. 'accounts.verify_pin'."""
    args: dict[str, str] = field(default_factory=dict)
    """Argument -> expression evaluated in the caller's scope."""
    results: dict[str, str] = field(default_factory=dict)
    """Variable here -> result field of the action."""
    timeout: float = 5.0
    on: dict[str, str] = field(default_factory=dict)
    """Outcome -> node."""
    fallback: str = ""


HANDOFF_KINDS = ("queue", "voicemail", "callback", "transfer")


@dataclass(frozen=True, slots=True)
class HandoffNode(Node):
    """queue / voicemail / callback / transfer: a person or a later promise takes the call.

    `target` names the queue, mailbox or transfer destination; `options` keeps the rest
    (priority, max_wait...) for the services that implement them. A service that gives the
    call back answers an outcome (a queue's `timeout`, `full`, a key's `voicemail`...): `on`
    maps outcomes to nodes; `next` takes the others and a hand-off that cannot happen.
    """

    kind: str = ""
    target: str = ""
    options: dict[str, str] = field(default_factory=dict)
    on: dict[str, str] = field(default_factory=dict)
    next: str = ""


AnyNode = (
    PlayNode | MenuNode | CollectNode | SetNode | BranchNode | HoursNode | HttpNode
    | LanguageNode | SubflowNode | ReturnNode | GotoNode | HangupNode | HandoffNode | ActionNode
)


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    version: str
    languages: tuple[str, ...]
    default_language: str
    entry: str
    nodes: dict[str, AnyNode]
    params: tuple[str, ...] = ()
    """Variables a subflow expects from its caller (set before its entry)."""
    source: str = ""
    description: str = ""
    speech: dict[str, str] = field(default_factory=dict)
    """Language -> speech engine (pocketsphinx, vosk); a language without one takes keys."""


def targets(node: AnyNode) -> list[tuple[str, str]]:
    """(field, target node id) for every edge leaving `node`, for the checker and the graph."""
    out: list[tuple[str, str]] = []
    if isinstance(node, PlayNode | SetNode | LanguageNode | SubflowNode):
        if node.next:
            out.append(("next", node.next))
    elif isinstance(node, MenuNode):
        out += [(f"options.{key}", opt.target) for key, opt in node.options.items()]
        if node.escalation.fallback:
            out.append(("fallback", node.escalation.fallback))
    elif isinstance(node, CollectNode):
        if node.next:
            out.append(("next", node.next))
        if node.escalation.fallback:
            out.append(("fallback", node.escalation.fallback))
    elif isinstance(node, BranchNode):
        out += [(f"conditions.{i}", c.target) for i, c in enumerate(node.conditions)]
        if node.otherwise:
            out.append(("otherwise", node.otherwise))
    elif isinstance(node, HoursNode):
        out += [(name, t) for name, t in (("open", node.open), ("closed", node.closed),
                                          ("holiday", node.holiday)) if t]
    elif isinstance(node, HttpNode):
        out += [(name, t) for name, t in (("next", node.next), ("fallback", node.fallback)) if t]
    elif isinstance(node, ActionNode):
        out += [(f"on.{outcome}", t) for outcome, t in node.on.items()]
        if node.fallback:
            out.append(("fallback", node.fallback))
    elif isinstance(node, GotoNode):
        if node.target:
            out.append(("target", node.target))
    elif isinstance(node, HandoffNode):
        out += [(f"on.{outcome}", t) for outcome, t in node.on.items()]
        if node.next:
            out.append(("next", node.next))
    return out
