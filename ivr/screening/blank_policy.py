"""Blank-call policy and the callback desk: what happens to a number after its call ends blank or drops.

Counters and holds live in the database, so every gunicorn process applies the same policy.
"""
import logging
from datetime import datetime, timedelta, timezone

import phonenumbers

from ivr.screening.thresholds import above_normal
from ivr.store import actions, caller_facts, callbacks, calls, floods, holds, line_baseline, settings, waiting
from ivr.vocabulary import AlertKind, Flag, Route

log = logging.getLogger(__name__)


def countable(number):
    """Only real numbers are counted, held or called back: a block on 'anonymous' would hit every withheld caller."""
    if not number or not number.startswith("+"):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False


def after_blank(db, sid, number, config, now=None):
    """Count a blank call; watch-list and block at the thresholds; queue a callback unless the number is on watch."""
    now = now or datetime.now(timezone.utc)
    config = settings.in_force(db, config, config.get("SCREEN_SETTINGS_TTL", 5.0))    # thresholds changed at run time
    blank_burst(db, sid, config, now)
    if not countable(number):
        return None
    was_watched = holds.active(db, number, "watch", now) is not None
    count = holds.count_blank(db, number, now)
    hours = config["SCREEN_HOLD_HOURS"]
    if count >= config["SCREEN_BLANK_WATCH"]:
        holds.place(db, number, "watch", f"{count} blank calls on {now:%Y-%m-%d}", now, hours)
    if count >= config["SCREEN_BLANK_BLOCK"]:
        _block(db, number, count, now, hours)
    if not was_watched:
        callbacks.queue(db, sid, number, "blank")
    return count


def blank_burst(db, sid, config, now):
    """Alert the call's line when its short blank calls in the last SCREEN_BLANK_BURST_SECONDS are far above the
    line's whole normal call volume for that long (withheld numbers count here: it is about the line)."""
    call = calls.get_call(db, sid)
    if call is None or not call.to_number:
        return None
    window = config["SCREEN_BLANK_BURST_SECONDS"]
    blanks = caller_facts.short_blank_calls(db, call.to_number, now - timedelta(seconds=window),
                                            config["SCREEN_BLANK_SHORT_SECONDS"])
    normal = line_baseline.rate(db, call.to_number, now, window, config["SCREEN_BASELINE_DAYS"],
                                config["SCREEN_BASELINE_TTL"]) * window
    bar = above_normal(config["SCREEN_BLANK_BURST_CALLS"], normal, config["SCREEN_FLOOD_FACTOR"],
                       config["SCREEN_FLOOD_SIGMAS"])
    if blanks < bar:
        return None
    detail = f"blank-burst: {blanks} short blank calls on {call.to_number} within {window:g} s (burst at {bar})"
    alert = floods.raise_alert(db, call.to_number, blanks, window, now, config["SCREEN_FLOOD_COOLDOWN"],
                               AlertKind.BLANK_BURST, detail)
    if alert is not None:
        log.warning("blank-burst alert %d: %s", alert.id, detail)
    return alert


def _block(db, number, count, now, hours):
    if caller_facts.had_emergency(db, number, now):
        log.warning("%s: %d blank calls today but a real emergency in the last 24 h: not blocked", number, count)
        return None
    hold = holds.place(db, number, "block", f"{count} blank calls on {now:%Y-%m-%d}", now, hours)
    log.warning("%s blocked until %s: %s", number, hold.expires_at, hold.reason)
    return hold


def after_drop(db, call):
    """A call that ended before any decision, or decided for a desk but never connected to anyone (it rang
    out, or the caller gave up waiting), goes to the callback desk; the unconnected by their priority."""
    if call.status not in calls.FINAL_STATUSES or not countable(call.from_number):
        return None
    if call.decision is None:
        return callbacks.queue(db, call.sid, call.from_number, "dropped")
    if Route(call.decision).is_desk and call.connected_at is None:
        return callbacks.queue(db, call.sid, call.from_number, "unconnected", waiting.priority_of(call))
    return None


def after_queue_hangup(db, call):
    """A caller who hung up while waiting in the hold queue is rung back, at the head of its priority."""
    if countable(call.from_number):
        return callbacks.queue(db, call.sid, call.from_number, "gave-up", waiting.priority_of(call))
    return None


def after_emergency(db, sid):
    """A real emergency from a number under a block or on the watch-list lifts them (audited): whoever made the
    blank calls, this caller needs the police. Returns how many holds were lifted."""
    call = calls.get_call(db, sid)
    if call is None or not {Flag.BLOCKED, Flag.WATCH_LIST} & set(call.flags or {}):
        return 0
    lifted = actions.lift_holds(db, call.from_number, f"system: emergency call {sid}")
    if lifted:
        log.warning("%s: emergency call %s lifted %d blank-call hold(s)", call.from_number, sid, lifted)
    return lifted
