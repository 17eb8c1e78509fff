"""The call flow at each webhook: plain functions over the store, the classifier's stored reading and reconcile.

Each step returns a Decision (where the call goes, an ivr.vocabulary.Route) or a Step (the menu again, or
through the keypad gate). `claim` is the one place a decision is recorded; early routing uses it too.
"""
import logging
import time
from enum import Enum

from ivr.call.routing import target_for
from ivr.screening import blank_policy, numbers as screening
from ivr.store import calls, settings
from ivr.triage.classifier import Classification
from ivr.triage.reconcile import Decision, Thresholds, reconcile
from ivr.vocabulary import Flag, Route

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
HEARD_SLACK_SECONDS = 0.5   # recognition counts as caught up when it has heard to within this of the key press
DIGITS = set("0123456789*#")


class Step(Enum):
    """A webhook step that does not decide the call yet."""
    RETRY = "retry"     # the menu (or gate) once more, with the silent-caller prompt
    PASS = "pass"       # through the keypad gate to the normal answer


def clean_digit(raw):
    """The key pressed, or None; anything that is not one DTMF key counts as 'other' ('?')."""
    raw = (raw or "").strip()
    if not raw:
        return None
    return raw if len(raw) == 1 and raw in DIGITS else "?"


def clean_attempt(raw, maximum=MAX_ATTEMPTS):
    """The attempt number from a query string, clamped to 1..maximum (garbage counts as 1)."""
    try:
        return min(max(int(raw), 1), maximum)
    except (TypeError, ValueError):
        return 1


def claim(db, sid, decision, config, digit=None, early=False):
    """Record DECISION for the call unless another step's came first; True when this one stands."""
    target = target_for(decision.route, config) if decision.route.is_desk else None
    return calls.claim_decision(db, sid, decision.route, target, decision.reasons, decision.flags, early, digit)


def stored_decision(call):
    """The decision another step already recorded (an early live-update route, usually)."""
    return Decision(Route(call.decision), tuple(call.reasons), dict(call.flags or {}))


def incoming(db, sid, raw_from, to, region, stir, config, now=None):
    """Record a new call's arrival, then screen it (unless SCREEN_ENABLED is off); returns the screening verdict.

    The arrival is committed before screening counts the line, so of callers arriving at the same instant, at
    any process, the last to count sees them all. `now` is for replays with a simulated clock."""
    raw = (raw_from or "").strip()[:screening.MAX_NUMBER_CHARS]
    number = screening.normalise_number(raw, region) or raw or "unknown"
    calls.open_call(db, sid, number, (to or "")[:64], created_at=now)
    if config["SCREEN_ENABLED"]:
        rules = screening.Rules.from_config(config, settings.overrides(db, config["SCREEN_SETTINGS_TTL"]))
        verdict = screening.screen(db, raw_from, region, to, stir, rules, now, sid)
    else:
        verdict = screening.Screening(number, "answer", 0.0, ())
    if verdict.reasons or verdict.flags or verdict.risk:
        calls.record_screening(db, sid, verdict.risk, verdict.reasons, verdict.flags, verdict.block_reason)
    if verdict.action == "reject":
        claim(db, sid, Decision(Route.REJECT), config)
    return verdict


def after_gate(db, sid, digit, attempt, config):
    """The keypad gate: 1 lets the caller through, 5 is a silent emergency, nothing at all is a blank call."""
    call = calls.record_attempt(db, sid, digit)
    if call is None:
        log.warning("gate for unknown call %s", sid)
        return Decision(Route.OPERATOR, (f"gate: {digit or 'none'}", "fault: unknown call id"))
    if call.decision is not None:
        return stored_decision(call)
    if digit == "5":
        decision = Decision(Route.OPERATOR, ("gate: 5", "keypad: 5"), {Flag.SILENT_CALLER: "gate: 5"})
        return _claim_or_follow(db, sid, decision, config, digit)
    # a wrong key twice still shows a person at the phone: let the normal menu sort them out
    if digit == "1" or (digit is not None and attempt >= MAX_ATTEMPTS):
        return Step.PASS
    if attempt < MAX_ATTEMPTS:
        return Step.RETRY
    return end_blank(db, call, "blank: no key at the keypad gate after the silent-caller prompt", config)


def after_keypad(db, sid, digit, attempt, config):
    """Decide the call after the keypad menu: route it, give a silent caller one more chance, or end it blank."""
    arrived = time.time()
    call = calls.record_attempt(db, sid, digit)
    if call is None:
        log.warning("keypad for unknown call %s", sid)
        return Decision(Route.OPERATOR, (f"keypad: {digit or 'none'}", "fault: unknown call id"))
    if call.decision is None:
        call = calls.wait_until_settled(db, sid, config["IVR_DECISION_WAIT_SECONDS"], arrived - HEARD_SLACK_SECONDS)
    if call.decision is not None:
        return stored_decision(call)
    if digit is None and _blank(call, config):
        if attempt < MAX_ATTEMPTS:
            return Step.RETRY
        return end_blank(db, call, "blank: no speech and no key after the silent-caller prompt", config)
    return settle(db, sid, call, digit, config)


def end_blank(db, call, reason, config):
    """The blank-call ending: recorded once, and counted against the number by the blank-call policy."""
    decision = Decision(Route.BLANK, (reason,), {Flag.BLANK: reason})
    stands = _claim_or_follow(db, call.sid, decision, config)
    if stands is decision:
        try:     # principle 1 for the policy too: a failing counter must not change what the caller hears
            blank_policy.after_blank(db, call.sid, call.from_number, config)
        except Exception:  # noqa: BLE001 - logged; the call has already been decided
            log.exception("blank-call policy failed for %s", call.sid)
    return stands


def after_status(db, call):
    """A final status with no decision: the caller dropped before we decided, so the callback desk rings back."""
    try:
        blank_policy.after_drop(db, call)
    except Exception:  # noqa: BLE001 - the status callback must still be acknowledged
        log.exception("callback queue failed for %s", call.sid)


def settle(db, sid, call, digit, config, tries=3):
    """Reconcile and record the decision; if an early route holds the claim, follow it (or retry if released)."""
    for _ in range(tries):
        decision = decide(call, digit, config)
        if claim(db, sid, decision, config, digit):
            return decision
        call = calls.get_call(db, sid)
        if call.decision is not None:
            return stored_decision(call)
    return Decision(Route.OPERATOR, ("fault: decision kept changing hands",))


def _claim_or_follow(db, sid, decision, config, digit=None):
    """DECISION when this step recorded it, else the decision already on record."""
    if claim(db, sid, decision, config, digit):
        return decision
    return stored_decision(calls.get_call(db, sid))


def decide(call, digit, config):
    reading = Classification(call.label, call.confidence or 0.0, call.probabilities or {})
    faults = list(call.faults or [])
    if call.stream_started_at is None:
        faults.append("media stream never connected")
    return reconcile(digit, reading, Thresholds.from_config(config), call.risk, faults)


def _blank(call, config):
    return not call.transcript and call.voice_seconds < config["IVR_BLANK_VOICE_SECONDS"] and not call.faults \
        and call.stream_started_at is not None
