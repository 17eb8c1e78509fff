"""Blank-call policy (daily counters, watch-list, temporary blocks), callbacks and their commands."""
from datetime import datetime, timedelta, timezone

import pytest

from ivr.screening import blank_policy as policy
from ivr.store import callbacks, calls, holds
from ivr.store.models import utcnow

from conftest import call_params
from helpers import answer, heard, keypad

NUMBER = "+919812345678"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def blank_calls(db, app, count, number=NUMBER, now=NOW):
    for i in range(count):
        policy.after_blank(db, f"CA-{number}-{now:%H%M%S}-{i}", number, app.config, now)


def test_watch_list_at_4_and_block_at_10_blank_calls_a_day(db, app):
    blank_calls(db, app, 3)
    assert holds.active(db, NUMBER, "watch", NOW) is None
    blank_calls(db, app, 1)
    watch = holds.active(db, NUMBER, "watch", NOW)
    assert watch.reason == "4 blank calls on 2026-11-21"
    blank_calls(db, app, 5)
    assert holds.active(db, NUMBER, "block", NOW) is None
    blank_calls(db, app, 1)
    block = holds.active(db, NUMBER, "block", NOW)
    assert block.reason == "10 blank calls on 2026-11-21"
    assert holds.active(db, NUMBER, "block", NOW + timedelta(hours=24, seconds=1)) is None


def test_counters_are_daily(db, app):
    blank_calls(db, app, 3)
    blank_calls(db, app, 3, now=NOW + timedelta(days=1))
    assert holds.blank_count(db, NUMBER, NOW + timedelta(days=1)) == 3
    assert holds.active(db, NUMBER, "watch", NOW + timedelta(days=1)) is None


def test_thresholds_and_hold_time_are_configurable(db, app):
    app.config.update(SCREEN_BLANK_WATCH=1, SCREEN_BLANK_BLOCK=2, SCREEN_HOLD_HOURS=2)
    blank_calls(db, app, 2)
    assert holds.active(db, NUMBER, "block", NOW + timedelta(hours=1, minutes=59)) is not None
    assert holds.active(db, NUMBER, "block", NOW + timedelta(hours=2)) is None


def test_a_number_with_an_emergency_in_the_last_24_hours_is_never_blocked(db, app):
    calls.open_call(db, "CA-emergency", NUMBER, "+15005550001")
    calls.claim_decision(db, "CA-emergency", "emergency", "+15005550101", ["keypad: 1"])
    blank_calls(db, app, 12, now=utcnow())
    assert holds.active(db, NUMBER, "block", utcnow()) is None
    assert holds.active(db, NUMBER, "watch", utcnow()) is not None


def test_a_silent_caller_who_pressed_5_counts_as_an_emergency(db, app):
    calls.open_call(db, "CA-silent", NUMBER, "+15005550001")
    calls.record_attempt(db, "CA-silent", "5")
    blank_calls(db, app, 10, now=utcnow())
    assert holds.active(db, NUMBER, "block", utcnow()) is None


@pytest.mark.parametrize("number", ["anonymous", "unknown", "+99912345", ""])
def test_withheld_and_invalid_numbers_are_never_counted_or_blocked(db, app, number):
    blank_calls(db, app, 12, number=number)
    assert holds.active_holds(db, NOW) == [] and callbacks.pending(db) == []


def test_blank_calls_are_called_back_until_the_number_is_on_watch(db, app):
    blank_calls(db, app, 6)
    queued = callbacks.pending(db)
    assert [(c.number, c.why) for c in queued] == [(NUMBER, "blank")] * 4


def test_blank_call_through_the_webhooks_is_counted_and_queued(twilio_post, db):
    sid, _ = answer(twilio_post)
    heard(db, sid, "", voice=0.0)
    keypad(twilio_post, sid, None, attempt=2)
    assert holds.blank_count(db, NUMBER, utcnow()) == 1
    assert [(c.call_sid, c.why) for c in callbacks.pending(db)] == [(sid, "blank")]


def test_call_dropped_before_a_decision_is_queued_for_callback_once(twilio_post, db):
    sid, _ = answer(twilio_post)
    done = {**call_params(sid), "CallStatus": "completed", "CallDuration": "3"}
    assert twilio_post("/voice/status", done).status_code == 204
    assert twilio_post("/voice/status", done).status_code == 204
    assert [(c.call_sid, c.number, c.why) for c in callbacks.pending(db)] == [(sid, NUMBER, "dropped")]


def test_connected_and_rejected_calls_are_not_called_back(twilio_post, db):
    sid, _ = answer(twilio_post)
    heard(db, sid, "my purse was stolen", "complaint", 0.9)
    keypad(twilio_post, sid, "3")
    twilio_post("/voice/dialled?route=complaint", {**call_params(sid), "DialCallStatus": "completed"})
    twilio_post("/voice/status", {**call_params(sid), "CallStatus": "completed"})
    withheld, _ = answer(twilio_post, From="anonymous")
    twilio_post("/voice/status", {**call_params(withheld), "CallStatus": "completed"})
    assert callbacks.pending(db) == []


def test_callback_attempts_close_after_3_or_on_reaching_the_caller(db, app):
    first = callbacks.queue(db, "CA-1", NUMBER, "dropped")
    second = callbacks.queue(db, "CA-2", NUMBER, "blank")
    assert callbacks.queue(db, "CA-1", NUMBER, "dropped") is None
    for _ in range(3):
        entry, recorded = callbacks.record_attempt(db, first.id, "no-answer", "", "op 1", 3)
        assert recorded
    assert entry.status == "given-up" and entry.attempts == 3
    assert callbacks.record_attempt(db, first.id, "no-answer", "", "op 1", 3)[1] is False
    entry, _ = callbacks.record_attempt(db, second.id, "reached", "pocket dial, all fine", "op 2", 3)
    assert entry.status == "done" and entry.outcomes[0]["note"] == "pocket dial, all fine"
    assert callbacks.pending(db) == []


def test_block_commands_list_and_lift(runner, db):
    holds.place(db, NUMBER, "block", "10 blank calls on 2026-11-21", utcnow(), 24)
    holds.place(db, NUMBER, "watch", "4 blank calls on 2026-11-21", utcnow(), 24)
    holds.count_blank(db, NUMBER, utcnow())
    listing = runner.invoke(args=["block", "list"])
    assert listing.exit_code == 0
    assert [line.split("\t")[:2] for line in listing.output.splitlines()] == [["block", NUMBER], ["watch", NUMBER]]
    lifted = runner.invoke(args=["block", "lift", "098123 45678", "--by", "op 4"])
    assert lifted.output == f"lifted 2 hold(s) on {NUMBER}\n"
    assert holds.active_holds(db, utcnow()) == [] and holds.blank_count(db, NUMBER, utcnow()) == 0
    again = runner.invoke(args=["block", "lift", NUMBER])
    assert again.exit_code == 1 and "no block or watch-list entry" in again.output
    assert runner.invoke(args=["block", "lift", "nonsense"]).exit_code == 2


def test_callback_commands(runner, db):
    entry = callbacks.queue(db, "CA-9", NUMBER, "blank")
    listing = runner.invoke(args=["callbacks", "list"])
    assert listing.output.startswith(f"{entry.id}\t{NUMBER}\tblank\tpending\tattempts 0\tlast -\t")
    result = runner.invoke(args=["callbacks", "attempt", str(entry.id), "--outcome", "reached", "--note", "ok"])
    assert result.output == f"callback {entry.id}: attempt 1 reached; now done\n"
    assert runner.invoke(args=["callbacks", "list"]).output == ""
    assert runner.invoke(args=["callbacks", "list", "--all"]).output.count("\tdone\t") == 1
    assert runner.invoke(args=["callbacks", "attempt", str(entry.id), "--outcome", "reached"]).exit_code == 1
    assert runner.invoke(args=["callbacks", "attempt", "999", "--outcome", "reached"]).exit_code == 1
    assert runner.invoke(args=["callbacks", "attempt", str(entry.id), "--outcome", "maybe"]).exit_code == 2
