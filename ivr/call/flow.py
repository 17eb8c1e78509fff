"""The call flow at each webhook: plain functions over the store, the classifier's stored reading and reconcile.

Each step returns a Decision (where the call goes, an ivr.vocabulary.Route) or a Step (the menu again, or
through the keypad gate). `claim` is the one place a decision is recorded; early routing uses it too.
"""
import dataclasses
import logging
import time
from enum import Enum

from ivr.call.routing import target_for
from ivr.screening import blank_policy, numbers as screening
from ivr.store import calls, settings, waiting
from ivr.telemetry import RECOGNITION_SHED
from ivr.triage.classifier import Classification
from ivr.triage.reconcile import Decision, Thresholds, reconcile
from ivr.vocabulary import Flag, Route

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
HEARD_SLACK_SECONDS = 0.5   # recognition counts as caught up when it has heard to within this of the key press
DIGITS = set("0123456789*#")
MACHINE_FLAGS = {Flag.ROBOCALL, Flag.SAME_RECORDING, Flag.FAX_TONE, Flag.MODEM_TONE}
ANSWERED = ("completed", "answered")      # DialCallStatus of a dial that connected
LEFT_QUEUE_DONE = ("hangup", "bridged", "redirected", "redirected-from-bridged")   # nobody left to route


class Step(Enum):
    """A webhook step that does not decide the call yet."""
    RETRY = "retry"     # the menu (or gate) once more, with the silent-caller prompt
    PASS = "pass"       # through the keypad gate to the normal answer
    HOLD = "hold"       # nobody answered: the hold queue
    DONE = "done"       # the call needs nothing more from us


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
    """Record DECISION for the call unless another step's came first; True when this one stands. A real
    emergency (the emergency desk, or a silent caller's 5) lifts the number's blank-call holds."""
    target = target_for(decision.route, config) if decision.route.is_desk else None
    if not calls.claim_decision(db, sid, decision.route, target, decision.reasons, decision.flags, early, digit):
        return False
    if decision.route == Route.EMERGENCY or Flag.SILENT_CALLER in decision.flags:
        try:     # the caller's route is settled; lifting the block must not change it
            blank_policy.after_emergency(db, sid)
        except Exception:  # noqa: BLE001 - logged; the next call is gated, not rejected, anyway
            log.exception("lifting the holds after the emergency %s failed", sid)
    return True


def stored_decision(call):
    """The decision another step already recorded (an early live-update route, usually)."""
    return Decision(Route(call.decision), tuple(call.reasons), dict(call.flags or {}))


def _follow(db, call):
    """Carry out the decision on record; an early route's claim is marked followed, so a live update that fails
    afterwards cannot release it (the caller is dialled by this step's TwiML). None when it was released."""
    if call.routed_early and not calls.follow_decision(db, call.sid):
        return None
    return stored_decision(call)


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


def reserve_recognition(db, sid, slots):
    """Reserve a recognition slot for the call's stream; True when its words will be recognised. Without one
    (overload) the call is flagged with why, and its caller hears the keypad menu at once."""
    why = slots.reserve(sid)
    if why is None:
        return True
    reason = f"overload: {why} when the call was answered; keypad menu only"
    log.warning("%s: speech recognition shed: %s", sid, reason)
    RECOGNITION_SHED.labels("answer").inc()
    calls.add_flag(db, sid, Flag.SPEECH_SHED, reason)
    return False


def recognising(db, sid):
    """False when the call's recognition was shed (its caller is better asked for a key than for words)."""
    call = calls.get_call(db, sid)
    return call is None or Flag.SPEECH_SHED not in (call.flags or {})


def after_gate(db, sid, digit, attempt, config):
    """The gate: 1 or a person's words let the caller through, 5 is a silent emergency, silence is a blank call."""
    arrived = time.time()
    call = calls.record_attempt(db, sid, digit)
    if call is None:
        return _unknown_call("gate", sid, digit)
    if call.decision is not None and (followed := _follow(db, call)) is not None:
        return followed
    if digit == "5":
        decision = Decision(Route.OPERATOR, ("gate: 5", "keypad: 5"), {Flag.SILENT_CALLER: "gate: 5"})
        return _claim_or_follow(db, sid, lambda _call: decision, config, digit)
    # a wrong key twice still shows a person at the phone: let the normal menu sort them out
    if digit == "1" or (digit is not None and attempt >= MAX_ATTEMPTS):
        return Step.PASS
    if digit is None:
        call = _settled(db, sid, config, arrived)
        if _person_spoke(call, config):
            return Step.PASS
    if attempt < MAX_ATTEMPTS:
        return Step.RETRY
    if _blank(call, config):
        return end_blank(db, call, "blank: no key and no speech at the gate after the silent-caller prompt", config)
    # not silence, not a person's words (a matched recording, tones) or we could not listen: a human decides
    return settle(db, sid, call, digit, config)


def after_keypad(db, sid, digit, attempt, config):
    """Decide the call after the keypad menu: route it, give a silent caller one more chance, or end it blank."""
    arrived = time.time()
    call = calls.record_attempt(db, sid, digit)
    if call is None:
        return _unknown_call("keypad", sid, digit)
    if call.decision is None:
        call = _settled(db, sid, config, arrived)
    if call.decision is not None and (followed := _follow(db, call)) is not None:
        return followed
    if digit is None and _blank(call, config):
        if attempt < MAX_ATTEMPTS:
            return Step.RETRY
        return end_blank(db, call, "blank: no speech and no key after the silent-caller prompt", config)
    return settle(db, sid, call, digit, config)


def end_blank(db, call, reason, config):
    """The blank-call ending: recorded once, and counted against the number by the blank-call policy."""
    decision = Decision(Route.BLANK, (reason,), {Flag.BLANK: reason})
    stands = _claim_or_follow(db, call.sid, lambda _call: decision, config)
    if stands is decision:
        try:     # principle 1 for the policy too: a failing counter must not change what the caller hears
            blank_policy.after_blank(db, call.sid, call.from_number, config)
        except Exception:  # noqa: BLE001 - logged; the call has already been decided
            log.exception("blank-call policy failed for %s", call.sid)
    return stands


def after_dial(db, sid, route, status):
    """A dial to ROUTE ended with STATUS: DONE when answered; a desk that did not answer hands the caller to the
    operator; the operator not answering (one try: the queue is where operators find callers) is HOLD."""
    if status in ANSWERED:
        waiting.connected(db, sid)
        return Step.DONE
    log.warning("dial to %s for %s ended %r", route, sid, status)
    if route != Route.OPERATOR:
        return Decision(Route.OPERATOR)
    if not sid:
        return Decision(Route.OPERATOR, ("fault: no call id to hold",))
    if waiting.enqueue(db, sid) is None:
        log.warning("hold for unknown call %s: dialling the operator again", sid)
        return Decision(Route.OPERATOR, ("fault: unknown call id",))
    return Step.HOLD


def after_queue(db, sid, result):
    """The caller left the hold queue with Twilio's QueueResult: a caller who hung up is rung back; DONE unless
    the caller is still on the line untaken (queue full, an error), who then goes to the operator."""
    call = waiting.left(db, sid, result)
    if result == "hangup" and call is not None:
        blank_policy.after_queue_hangup(db, call)
    if result in LEFT_QUEUE_DONE:
        return Step.DONE
    log.warning("%s left the hold queue with %r: dialling the operator", sid, result)
    return Decision(Route.OPERATOR, (f"queue: left with {result or 'no result'}",))


def after_status(db, call):
    """A final status: a caller who dropped before we decided, or was never connected, is rung back."""
    try:
        blank_policy.after_drop(db, call)
    except Exception:  # noqa: BLE001 - the status callback must still be acknowledged
        log.exception("callback queue failed for %s", call.sid)


def settle(db, sid, call, digit, config):
    """Reconcile and record the decision; if an early route holds the claim, follow it (or retry if released)."""
    return _claim_or_follow(db, sid, lambda known: decide(known, digit, config), config, digit, call)


def _claim_or_follow(db, sid, deciding, config, digit=None, call=None, tries=3):
    """Record `deciding(call)`, or follow the decision already on record; decide again if a claim on record was
    released meanwhile (an early route whose live update failed)."""
    for _ in range(tries):
        decision = deciding(call)
        if claim(db, sid, decision, config, digit):
            return decision
        call = calls.get_call(db, sid)
        if call.decision is not None and (followed := _follow(db, call)) is not None:
            return followed
    return Decision(Route.OPERATOR, ("fault: decision kept changing hands",))


def decide(call, digit, config):
    reading = Classification(call.label, call.confidence or 0.0, call.probabilities or {})
    faults, shed = list(call.faults or []), Flag.SPEECH_SHED in (call.flags or {})
    # a shed call's stream only measures voice: one that a loaded media pool has not yet started is no fault,
    # and the caller's key stands
    if call.stream_started_at is None and not shed:
        faults.append("media stream never connected")
    decision = reconcile(digit, reading, Thresholds.from_config(config), call.risk, faults)
    if shed:     # "no speech" would read as silence: say we did not listen
        late = ("stream: not started by the key press",) if call.stream_started_at is None else ()
        decision = dataclasses.replace(decision, reasons=decision.reasons + ("speech: not recognised (overload)",)
                                       + late)
    return decision


def _unknown_call(menu, sid, digit):
    log.warning("%s for unknown call %s", menu, sid)
    return Decision(Route.OPERATOR, (f"{menu}: {digit or 'none'}", "fault: unknown call id"))


def _settled(db, sid, config, arrived):
    """The call once recognition has caught up with what the caller said before ARRIVED (bounded wait)."""
    return calls.wait_until_settled(db, sid, config["IVR_DECISION_WAIT_SECONDS"], arrived - HEARD_SLACK_SECONDS)


def _person_spoke(call, config):
    """Words, or voice enough not to be blank, and no sign of a machine: a person is on the line."""
    if MACHINE_FLAGS & set(call.flags or {}):
        return False
    return bool(call.transcript) or call.voice_seconds >= config["IVR_BLANK_VOICE_SECONDS"]


def _blank(call, config):
    return not call.transcript and call.voice_seconds < config["IVR_BLANK_VOICE_SECONDS"] and not call.faults \
        and call.stream_started_at is not None
