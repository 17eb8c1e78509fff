"""Screening a caller before the call is answered.

Each check is a small function of (caller, facts, rules) returning a Risk (score, flag, reason) or None;
`combine` turns the findings into a risk, flags and an action. Only the spam list rejects: risk, a blank-call block
or a flood never does. High risk, a block or a flooded line answers behind a gate that listens ("press 1 or say
what has happened").
"""
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberType

from ivr.screening.thresholds import flood_bar
from ivr.store import caller_facts, floods, line_baseline
from ivr.store.models import aware
from ivr.vocabulary import AlertKind, Flag

log = logging.getLogger(__name__)

WITHHELD = {"", "anonymous", "unknown", "restricted", "private", "unavailable", "266696687", "+"}
MAX_NUMBER_CHARS = 64
RARE_TYPES = {PhoneNumberType.PREMIUM_RATE: "premium rate", PhoneNumberType.SHARED_COST: "shared cost",
              PhoneNumberType.UNKNOWN: "unknown type"}


class Risk(NamedTuple):
    """What one check found: its share of the risk, the flag it raises, and why (for operators)."""
    score: float
    flag: Flag
    reason: str


@dataclass(frozen=True)
class Rules:
    """Screening thresholds and lists (SCREEN_* configuration)."""
    gate_risk: float = 0.5
    own_numbers: frozenset = frozenset()
    emergency_codes: frozenset = frozenset({"100", "101", "102", "108", "112", "1090", "1091", "911", "999"})
    repeat_calls: int = 3
    flood_callers: int = 5
    flood_seconds: float = 5.0
    flood_cooldown: float = 300.0
    flood_exit_callers: int = 3     # an open alert keeps the line in flood mode down to this many callers
    flood_factor: float = 1.0       # flood bar: max(flood_callers, factor x normal + sigmas x sqrt(normal))
    flood_sigmas: float = 5.0
    baseline_days: int = 7          # earlier days whose same hour counts as the line's normal
    baseline_ttl: float = 60.0      # seconds each process keeps a line's normal rate
    range_numbers: int = 4          # numbers of one range on a line within range_seconds that flag the calls
    range_digits: int = 2
    range_seconds: float = 60.0

    @classmethod
    def from_config(cls, config, overrides=None):
        """Rules from the app config, with any thresholds an operator changed at run time on top."""
        config = {**config, **(overrides or {})}
        own = {config.get(f"ROUTE_{desk}", "") for desk in ("EMERGENCY", "INQUIRY", "COMPLAINT", "OPERATOR")}
        keys = {"repeat_calls": "REPEAT_CALLS", "flood_callers": "FLOOD_CALLERS", "flood_seconds": "FLOOD_SECONDS",
                "flood_cooldown": "FLOOD_COOLDOWN", "flood_exit_callers": "FLOOD_EXIT_CALLERS",
                "flood_factor": "FLOOD_FACTOR", "flood_sigmas": "FLOOD_SIGMAS", "baseline_days": "BASELINE_DAYS",
                "baseline_ttl": "BASELINE_TTL", "range_numbers": "RANGE_NUMBERS", "range_digits": "RANGE_DIGITS",
                "range_seconds": "RANGE_SECONDS"}
        return cls(config["SCREEN_GATE_RISK"], frozenset(filter(None, own | set(config["SCREEN_OWN_NUMBERS"]))),
                   frozenset(config["SCREEN_EMERGENCY_CODES"]),
                   **{field_: config[f"SCREEN_{key}"] for field_, key in keys.items()})


@dataclass(frozen=True)
class Caller:
    raw: str                 # the caller ID as sent, trimmed and cut to MAX_NUMBER_CHARS
    number: str | None       # E.164 when it parses
    line: str                # the number dialled (To)
    stir: str                # StirVerstat, empty when absent
    valid: bool = False      # a number some network could have issued (phonenumbers)
    kind: int | None = None  # phonenumbers.PhoneNumberType when valid

    @classmethod
    def read(cls, raw_from, to, stir, region):
        """Parse the caller ID once (phonenumbers is the slowest part of screening after the database)."""
        raw = (raw_from or "").strip()[:MAX_NUMBER_CHARS]
        number = normalise_number(raw, region)
        parsed = phonenumbers.parse(number) if number else None
        valid = parsed is not None and phonenumbers.is_valid_number(parsed)
        return cls(raw, number, (to or "").strip()[:64], (stir or "").strip()[:64], valid,
                   phonenumbers.number_type(parsed) if valid else None)


@dataclass(frozen=True)
class Screening:
    number: str             # E.164 when it parses, else the raw caller ID (trimmed)
    action: str             # answer | gate | reject
    risk: float
    reasons: tuple
    flags: dict = field(default_factory=dict)     # Flag -> reason
    block_reason: str | None = None


def normalise_number(raw, region="IN"):
    """E.164 form of a dialable number, or None when it cannot be parsed as one."""
    raw = (raw or "").strip()[:MAX_NUMBER_CHARS]
    if raw.lower().startswith(("sip:", "sips:")):
        raw = raw.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _withheld(raw):
    return raw.strip().lower() in WITHHELD


def check_withheld(caller, facts, rules):
    if _withheld(caller.raw):
        return Risk(0.3, Flag.CALLER_ID, "caller-id: withheld")
    return None


def check_valid(caller, facts, rules):
    if _withheld(caller.raw) or _digits(caller.raw) in rules.emergency_codes:
        return None
    return None if caller.valid else Risk(0.3, Flag.CALLER_ID, "caller-id: not a valid number")


def check_number_type(caller, facts, rules):
    kind = RARE_TYPES.get(caller.kind) if caller.valid else None
    return Risk(0.2, Flag.CALLER_ID, f"number-type: {kind}") if kind else None


def check_spoofed_line(caller, facts, rules):
    """Caller ID showing one of our own lines, or an emergency short code, is a classic spoof."""
    if caller.number and (caller.number in rules.own_numbers or caller.number == caller.line):
        return Risk(0.6, Flag.SPOOF_RISK, f"spoof: caller ID is our own line {caller.number}")
    if _digits(caller.raw) in rules.emergency_codes:
        return Risk(0.6, Flag.SPOOF_RISK, f"spoof: caller ID is the emergency short code {_digits(caller.raw)}")
    return None


def check_stir(caller, facts, rules):
    """STIR/SHAKEN verdict: a failed attestation raises risk; no verdict at all is neutral."""
    if "failed" in caller.stir.lower():
        return Risk(0.4, Flag.SPOOF_RISK, f"stir: {caller.stir}")
    if caller.stir.lower() == "no-tn-validation":
        return Risk(0.1, Flag.SPOOF_RISK, f"stir: {caller.stir}")
    return None


def check_repeat(caller, facts, rules):
    """The same number again and again within the hour: autodialler or prank more often than not."""
    if facts.calls_last_hour + 1 >= rules.repeat_calls and caller.number:
        return Risk(min(0.1 * (facts.calls_last_hour + 2 - rules.repeat_calls), 0.3), Flag.REPEAT_CALLER,
                    f"repeat: call {facts.calls_last_hour + 1} from this number within the hour")
    return None


def check_block(caller, facts, rules):
    """A blank-call block gates the number, never rejects it: a spoofed victim or a real emergency still gets
    through with a key or a word, and the emergency lifts the block (ivr.screening.blank_policy)."""
    if facts.block is not None:
        until = aware(facts.block.expires_at)
        return Risk(0.0, Flag.BLOCKED, f"policy-block: {facts.block.reason} (until {until:%Y-%m-%d %H:%M} UTC)")
    return None


def check_watch(caller, facts, rules):
    if facts.watch is not None:
        return Risk(0.3, Flag.WATCH_LIST, f"watch-list: {facts.watch.reason}")
    return None


def check_flood(caller, facts, rules):
    """Flood mode is not risk of this caller: it puts every caller on the line behind the gate. It starts when the
    distinct callers in the window are far above the line's normal (`facts.flood_bar`) and, while the line's
    alert is open, lasts until they are back near normal (hysteresis: a flood that dips does not flap the gate)."""
    if not caller.line:
        return None
    callers = len(facts.line_callers | {caller.number or caller.raw})
    entry, stay = facts.flood_bar
    within = (f"{callers} distinct callers on {caller.line} within {rules.flood_seconds:g} s (flood at {entry}; "
              f"normal {facts.baseline * rules.flood_seconds:.1f})")
    if callers >= entry:
        return Risk(0.0, Flag.FLOOD, f"flood: {within}")
    if facts.flood_alert is not None and callers >= stay:
        return Risk(0.0, Flag.FLOOD, f"flood: {within}, alert {facts.flood_alert} still open")
    return None


def check_number_range(caller, facts, rules):
    """Several numbers of one range (alike but for the last digits) calling the line within a minute: a
    robocaller stepping through a block. Risk only: an office's numbers are alike too."""
    numbers = len(facts.range_callers | {caller.number})
    if _range_prefix(caller, rules) is None or numbers < rules.range_numbers:
        return None
    return Risk(0.2, Flag.NUMBER_RANGE, f"number-range: {numbers} numbers {_range_prefix(caller, rules)}"
                f"{'x' * rules.range_digits} called {caller.line} within {rules.range_seconds:g} s")


def _range_prefix(caller, rules):
    if not (caller.valid and caller.number and caller.line) or rules.range_digits < 1:
        return None
    return caller.number[:-rules.range_digits]


CHECKS = (check_withheld, check_valid, check_number_type, check_spoofed_line, check_stir, check_repeat,
          check_block, check_watch, check_number_range, check_flood)
GATING_FLAGS = {Flag.FLOOD: "line in flood mode", Flag.BLOCKED: "number under a blank-call block"}


def combine(number, findings, rules):
    """Risk = sum of scores (at most 1); gate when risk reaches the threshold or the line is flooded."""
    risk = round(min(1.0, sum(found.score for found in findings)), 3)
    reasons = tuple(found.reason for found in findings)
    flags = {}
    for found in findings:
        flags.setdefault(found.flag, found.reason)
    why = next((text for flag, text in GATING_FLAGS.items() if flag in flags), None)
    gate = risk >= rules.gate_risk or why is not None
    if gate:
        reason = f"gate: {why or f'risk {risk:.2f}'}"
        reasons += (reason,)
        flags[Flag.GATE] = reason
    return Screening(number, "gate" if gate else "answer", risk, reasons, flags)


def rejection(number, facts):
    """The spam list, an operator's decision, is the only reason a call is rejected unanswered."""
    if facts.spam is not None:
        listed = facts.spam
        by = f" by {listed.added_by}" if listed.added_by else ""
        reason = f"spam-list: {listed.reason or 'listed'} (added{by} on {listed.created_at:%Y-%m-%d})"
        if listed.number.endswith(caller_facts.PREFIX_MARK):
            reason += f" [range {listed.number}]"
        return Screening(number, "reject", 1.0, (reason,), {Flag.SPAM_LIST: reason}, reason)
    return None


def screen(db, raw_from, region="IN", to="", stir="", rules=None, now=None, sid=""):
    """Screen a caller ID: the spam list rejects; the checks give risk, reasons, flags and the action.
    `sid` is the caller's own call, when it is already recorded (ivr.call.flow.incoming records it first)."""
    rules, now = rules or Rules(), now or datetime.now(timezone.utc)
    caller = Caller.read(raw_from, to, stir, region)
    number = caller.number or caller.raw or "unknown"
    facts = _facts(db, caller, number, now, rules, sid)
    verdict = rejection(number, facts)
    if verdict is not None:
        return verdict
    verdict = combine(number, [found for check in CHECKS if (found := check(caller, facts, rules)) is not None],
                      rules)
    if Flag.FLOOD in verdict.flags and facts.flood_alert is None:
        _alert(db, caller.line, AlertKind.FLOOD, len(facts.line_callers | {number}), rules.flood_seconds,
               verdict.flags[Flag.FLOOD], rules, now)
    if Flag.NUMBER_RANGE in verdict.flags:
        _alert(db, caller.line, AlertKind.NUMBER_RANGE, len(facts.range_callers | {number}), rules.range_seconds,
               verdict.flags[Flag.NUMBER_RANGE], rules, now)
    return verdict


def _facts(db, caller, number, now, rules, sid):
    """The caller's facts, judged against the line's normal rate (cached per line for `baseline_ttl`)."""
    baseline = line_baseline.rate(db, caller.line, now, rules.flood_seconds, rules.baseline_days,
                                  rules.baseline_ttl) if caller.line else 0.0
    bar = flood_bar(rules, baseline)
    facts = caller_facts.gather(db, number, caller.line, now, rules, bar, sid, _range_prefix(caller, rules))
    return replace(facts, baseline=baseline)


def _alert(db, line, kind, count, window, detail, rules, now):
    alert = floods.raise_alert(db, line, count, window, now, rules.flood_cooldown, kind, detail)
    if alert is not None:
        log.warning("%s alert %d on %s: %s", kind, alert.id, line, detail)


def _digits(raw):
    return "".join(ch for ch in raw if ch.isdigit()) if len(raw) <= MAX_NUMBER_CHARS else ""
