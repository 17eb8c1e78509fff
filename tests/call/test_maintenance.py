"""`flask --app ivr calls reconcile|purge`: calls left open are settled from Twilio's record; old calls go."""
import socket
from datetime import timedelta

import pytest

from ivr.store import actions, audit, calls, callbacks, fingerprints
from ivr.store.models import utcnow

from conftest import make_app

CALLER = "+919812345678"


@pytest.fixture
def twilio_calls(stand_in):
    """The calls Twilio's stand-in knows (sid -> status, duration); forgotten after the test."""
    yield stand_in.calls
    stand_in.calls.clear()


def open_call(db, sid, minutes_ago, number=CALLER):
    return calls.open_call(db, sid, number, "+15005550100", created_at=utcnow() - timedelta(minutes=minutes_ago))


def test_reconcile_settles_calls_left_open_as_the_status_callback_would(runner, db, twilio_calls):
    open_call(db, "CAdropped", 30)
    open_call(db, "CAlive", 25)
    open_call(db, "CAunknown", 20)
    open_call(db, "CArecent", 2)
    open_call(db, "CAdone", 40)
    calls.close_call(db, "CAdone", "completed", 9)
    twilio_calls.update({"CAdropped": {"status": "completed", "duration": 42},
                         "CAlive": {"status": "in-progress"}, "CArecent": {"status": "completed", "duration": 1},
                         "CAdone": {"status": "completed", "duration": 9}})

    result = runner.invoke(args=["calls", "reconcile"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "CAdropped\tclosed\tcompleted 42 s", "CAlive\tlive\tin-progress", "CAunknown\tunknown\tfailed (Twilio: 404)",
        "reconciled closed 1, live 1, unknown 1, error 0"]
    dropped, unknown = calls.get_call(db, "CAdropped"), calls.get_call(db, "CAunknown")
    assert (dropped.status, dropped.duration, dropped.ended_at is not None) == ("completed", 42, True)
    assert unknown.status == "failed" and unknown.reasons[-1] == "closed by reconcile: Twilio does not know this call"
    assert calls.get_call(db, "CAlive").status == "ringing" and calls.get_call(db, "CArecent").status == "ringing"
    # undecided calls that ended are rung back, exactly as after a status callback
    assert sorted((entry.call_sid, entry.why) for entry in callbacks.pending(db)) == [
        ("CAdropped", "dropped"), ("CAunknown", "dropped")]

    again = runner.invoke(args=["calls", "reconcile"])
    assert again.output.splitlines() == ["CAlive\tlive\tin-progress", "reconciled closed 0, live 1, unknown 0, error 0"]
    assert len(callbacks.pending(db)) == 2


def test_reconcile_is_bounded_and_takes_the_oldest_first(runner, db, twilio_calls):
    for minutes in (50, 40, 30):
        open_call(db, f"CA{minutes}", minutes)
        twilio_calls[f"CA{minutes}"] = {"status": "busy"}
    result = runner.invoke(args=["calls", "reconcile", "--limit", "2", "--older-than", "35"])
    assert result.output.splitlines() == ["CA50\tclosed\tbusy", "CA40\tclosed\tbusy",
                                          "reconciled closed 2, live 0, unknown 0, error 0"]
    assert calls.get_call(db, "CA30").status == "ringing"


def test_reconcile_stops_with_one_line_when_twilio_cannot_be_reached(database_url, stand_in):
    with socket.socket() as probe:      # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_app(database_url, stand_in, TWILIO_API_BASE=f"http://127.0.0.1:{port}")
    try:
        db = app.extensions["ivr.db"]
        open_call(db, "CAstuck", 30)
        result = app.test_cli_runner().invoke(args=["calls", "reconcile"])
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: cannot reach Twilio at http://127.0.0.1:{port}")
        assert result.output.count("\n") == 1
        assert calls.get_call(db, "CAstuck").status == "ringing"
    finally:
        app.extensions["ivr.changes"].close()
        db.dispose()


def aged(db, sid, days, number=CALLER):
    call = calls.open_call(db, sid, number, "+15005550100", created_at=utcnow() - timedelta(days=days))
    calls.close_call(db, sid, "completed", 10)
    fingerprints.save(db, sid, number, b"\x00" * 8)
    return call


def test_purge_deletes_old_calls_and_fingerprints_but_keeps_pending_callbacks_and_labels(runner, db):
    aged(db, "CAold", 400)
    aged(db, "CAold2", 380)
    aged(db, "CAcallback", 400)
    callbacks.queue(db, "CAcallback", CALLER, "dropped")
    aged(db, "CAlabelled", 400)
    actions.label_call(db, "CAlabelled", "emergency", "op 17")
    aged(db, "CAyoung", 100)

    dry = runner.invoke(args=["calls", "purge", "--dry-run"])
    assert dry.output == "would delete 2 calls, 2 fingerprints, 0 finished callbacks (older than 365 days)\n"
    assert calls.get_call(db, "CAold") is not None

    result = runner.invoke(args=["calls", "purge", "--by", "op 17"])
    assert result.exit_code == 0, result.output
    assert result.output == "deleted 2 calls, 2 fingerprints, 0 finished callbacks (older than 365 days)\n"
    remaining = ["CAold", "CAold2", "CAcallback", "CAlabelled", "CAyoung"]
    assert [sid for sid in remaining if calls.get_call(db, sid)] == ["CAcallback", "CAlabelled", "CAyoung"]
    assert fingerprints.recording_of(db, "CAold") is None and fingerprints.recording_of(db, "CAyoung") == "CAyoung"
    entry = audit.recent(db)[0]
    assert (entry.actor, entry.action) == ("op 17", "calls.purge")
    assert {key: entry.after[key] for key in ("calls", "fingerprints", "older_than_days")} == {
        "calls": 2, "fingerprints": 2, "older_than_days": 365}


def test_purge_goes_in_batches_and_takes_finished_callbacks(db):
    from ivr.store import retention
    for n in range(5):
        aged(db, f"CA{n}", 10)
        callbacks.queue(db, f"CA{n}", CALLER, "dropped")
        callbacks.record_attempt(db, callbacks.pending(db)[0].id, "reached", "", "op 1", 3)
    totals = retention.purge(db, utcnow() - timedelta(days=5), 5, "cli", batch=2)
    assert totals == {"calls": 5, "fingerprints": 5, "callbacks": 5}
    assert callbacks.pending(db, include_closed=True) == []
    assert [entry.action for entry in audit.recent(db)].count("calls.purge") == 1


@pytest.mark.parametrize("days", ["0", "-3"])
def test_purge_refuses_less_than_a_day(runner, db, days):
    aged(db, "CAold", 400)
    result = runner.invoke(args=["calls", "purge", "--older-than", days])
    assert result.exit_code == 2 and "less than 1 day" in result.output
    assert calls.get_call(db, "CAold") is not None
