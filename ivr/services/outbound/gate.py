"""The compliance gate: may this number be dialled now? One pure function, with reason codes.

Every outbound dial asks `clear()` first, campaigns and callbacks alike, and the dialling code
takes only the `Clearance` it returns (dial.py), so there is no other way to ring someone. The
gate is pure: the caller looks up what it needs (the do-not-call lists, the number's past
attempts, the contact's consent) and passes it in, so the same decision is made in a unit test,
a property test over random clocks, the simulator and the live dialler. It answers every reason
that applies, not just the first, and when the reasons are all temporary (a window, a limit),
the earliest moment worth asking again.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..callback.schedule import clock_in_window
from .rules import RuleSet

__all__ = ["REASONS", "Clearance", "DialRequest", "DncHits", "PastAttempt", "Verdict",
           "clear", "valid_number"]

REASONS: dict[str, tuple[str, bool]] = {
    "bad_number": ("not a dialable number (digits, at most 15, E.164)", True),
    "unknown_zone": ("the callee's time zone is unknown", True),
    "dnc_internal": ("on the internal do-not-call list", True),
    "dnc_campaign": ("on the campaign's do-not-call list", True),
    "dnc_national": ("on the national do-not-call list", True),
    "national_list_missing": ("the rule set needs a national do-not-call list; none imported",
                              False),
    "national_list_stale": ("the national do-not-call list is older than the rule set allows",
                            False),
    "no_consent": ("the rule set needs recorded consent; the contact has none", True),
    "consent_expired": ("the contact's consent has expired", True),
    "holiday": ("a holiday in the callee's time zone", False),
    "closed_day": ("a day the rule set does not allow calls, in the callee's time zone", False),
    "outside_window": ("outside the calling window in the callee's local time", False),
    "night_no_consent": ("night hours need the contact's night consent", False),
    "daily_limit": ("as many attempts today (callee's day) as the rule set allows", False),
    "limit_24h": ("as many attempts in the last 24 hours as the rule set allows", False),
    "lifetime_limit": ("as many attempts ever as the rule set allows", True),
    "abandoned_recently": ("an abandoned call to this number too recently, and no agent "
                           "reserved", False),
}
"""code -> (what it means, permanent): a permanent reason will not clear by waiting."""

_NUMBER = re.compile(r"\+?[0-9]{3,15}")


def valid_number(number: str) -> bool:
    """At most 15 digits (E.164), an optional leading +, at least 3 (an extension)."""
    return _NUMBER.fullmatch(number) is not None


@dataclass(frozen=True, slots=True)
class PastAttempt:
    at: dt.datetime
    """When it was dialled (aware)."""
    result: str
    campaign: str = ""
    """The campaign that dialled it ("" for a callback)."""


@dataclass(frozen=True, slots=True)
class DncHits:
    """What the do-not-call lists say about one number (looked up by the caller)."""

    internal: bool = False
    campaign: bool = False
    national: bool = False
    national_list_date: dt.date | None = None
    """The date of the national list imported, None if there is none."""


@dataclass(frozen=True, slots=True)
class DialRequest:
    number: str
    zone: str
    """IANA time zone of the callee."""
    campaign: str = ""
    """"" for a callback."""
    agent_reserved: bool = False
    """An agent is waiting for this call (preview, agent-first callback): it cannot be
    abandoned."""
    history: tuple[PastAttempt, ...] = ()
    """Past attempts to this number, every campaign and callback."""
    dnc: DncHits = field(default_factory=DncHits)
    consent_at: dt.datetime | None = None
    night_consent: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    reasons: tuple[str, ...]
    retry_at: dt.datetime | None = None
    """All reasons temporary: the earliest time they could all have cleared. None when the
    call is allowed or a reason is permanent."""

    @property
    def allowed(self) -> bool:
        return not self.reasons

    @property
    def permanent(self) -> bool:
        return any(REASONS[r][1] for r in self.reasons)


@dataclass(frozen=True, slots=True)
class Clearance:
    """Proof that the gate allowed this dial at this moment; dial.py dials nothing without."""

    number: str
    campaign: str
    at: dt.datetime
    rules: str


def _clock(text: str) -> dt.time:
    return dt.time(int(text[:2]), int(text[3:5]))


def _allowed_local(local: dt.datetime, rules: RuleSet, night_consent: bool) -> list[str]:
    """The reasons the callee's local clock alone forbids a call."""
    reasons: list[str] = []
    if local.date() in rules.holidays:
        reasons.append("holiday")
    if local.weekday() not in rules.days:
        reasons.append("closed_day")
    if not clock_in_window(local.time(), rules.window):
        if rules.night_window is None or not clock_in_window(local.time(), rules.night_window):
            reasons.append("outside_window")
        elif not night_consent:
            reasons.append("night_no_consent")
    return reasons


def _next_local_opening(local: dt.datetime, rules: RuleSet, night_consent: bool,
                        zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """The first minute from `local` on when the clock rules allow a call (within 400 days)."""
    starts = {rules.window[0]}
    if night_consent and rules.night_window is not None:
        starts.add(rules.night_window[0])
    day = local.date()
    for _ in range(400):
        candidates = [dt.datetime.combine(day, _clock(s), zone) for s in starts]
        if day == local.date():
            candidates.append(local)
        for candidate in sorted(candidates):
            # A local time that does not exist (a DST gap) is read after the gap.
            real = candidate.astimezone(dt.UTC).astimezone(zone)
            if real >= local and not _allowed_local(real, rules, night_consent):
                return real
        day += dt.timedelta(days=1)
    return None


def _count_since(history: Iterable[PastAttempt], since: dt.datetime) -> list[dt.datetime]:
    return sorted(a.at for a in history if a.at > since)


def clear(request: DialRequest, rules: RuleSet, now: dt.datetime) -> Verdict:
    """Every reason the number may not be dialled at `now` (aware) under `rules`."""
    if not valid_number(request.number):
        return Verdict(("bad_number",))
    try:
        zone = zoneinfo.ZoneInfo(request.zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return Verdict(("unknown_zone",))
    reasons: list[str] = []
    waits: list[dt.datetime] = []
    dnc = request.dnc
    reasons += [code for code, hit in (("dnc_internal", dnc.internal),
                                       ("dnc_campaign", dnc.campaign),
                                       ("dnc_national", dnc.national)) if hit]
    if rules.national_list_max_age_days is not None:
        if dnc.national_list_date is None:
            reasons.append("national_list_missing")
        elif (now.astimezone(zone).date() - dnc.national_list_date).days \
                > rules.national_list_max_age_days:
            reasons.append("national_list_stale")
    if request.consent_at is None:
        if rules.require_consent:
            reasons.append("no_consent")
    elif rules.consent_days is not None and \
            now - request.consent_at > dt.timedelta(days=rules.consent_days):
        reasons.append("consent_expired")

    local = now.astimezone(zone)
    clock = _allowed_local(local, rules, request.night_consent)
    if clock:
        reasons += clock
        if (opening := _next_local_opening(local, rules, request.night_consent, zone)):
            waits.append(opening)
    limits = rules.limits
    if limits.per_day is not None:
        midnight = dt.datetime.combine(local.date(), dt.time(), zone)
        if len(_count_since(request.history, midnight - dt.timedelta(microseconds=1))) \
                >= limits.per_day:
            reasons.append("daily_limit")
            waits.append(dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(),
                                             zone))
    if limits.per_24h is not None:
        recent = _count_since(request.history, now - dt.timedelta(hours=24))
        if len(recent) >= limits.per_24h:
            reasons.append("limit_24h")
            waits.append(recent[len(recent) - limits.per_24h] + dt.timedelta(hours=24))
    if limits.lifetime is not None and request.campaign and sum(
            a.campaign == request.campaign for a in request.history) >= limits.lifetime:
        reasons.append("lifetime_limit")
    block = dt.timedelta(hours=rules.abandon.recall_block_hours)
    abandoned = [a.at for a in request.history if a.result == "abandoned" and a.at > now - block]
    if abandoned and not request.agent_reserved:
        reasons.append("abandoned_recently")
        waits.append(max(abandoned) + block)

    if not reasons:
        return Verdict(())
    ordered = tuple(code for code in REASONS if code in reasons)
    if any(REASONS[r][1] for r in ordered) or any(r.startswith("national_list") for r in ordered):
        return Verdict(ordered)
    retry = max(waits) if waits else None
    if retry is not None and retry > now:
        # The latest wait may land outside the window again: ask the clock rules from there.
        later = _next_local_opening(retry.astimezone(zone), rules, request.night_consent, zone)
        retry = later.astimezone(dt.UTC) if later else None
    return Verdict(ordered, retry)


def clearance(request: DialRequest, rules: RuleSet, now: dt.datetime) -> Clearance | Verdict:
    """The gate's answer as dial.py takes it: a Clearance to dial, or the refusing Verdict."""
    verdict = clear(request, rules, now)
    if verdict.allowed:
        return Clearance(request.number, request.campaign, now, rules.name)
    return verdict
