"""CallListener: storage, classification and early routing of one stream's results."""
import queue
from datetime import timedelta

import pytest

from ivr.call.listener import CallListener
from ivr.store import Database, calls
from ivr.store.models import utcnow

from helpers import stream_token

DIALLED = {route: f"http://localhost/voice/dialled?route={route}&attempt=1"
           for route in ("emergency", "inquiry", "complaint", "operator")}


@pytest.fixture
def listener(app):
    return CallListener(app.extensions["ivr.db"], app.extensions["ivr.classifier"], app.extensions["ivr.live"],
                        app.config, DIALLED)


def test_unknown_call_is_not_started(listener, db, app):
    assert listener.started("CA-nobody", stream_token(app.config, "CA-nobody")) is False
    calls.open_call(db, "CA1", "+919812345678", "+1")
    assert listener.started("CA1", stream_token(app.config, "CA1")) is True
    assert calls.get_call(db, "CA1").stream_started_at is not None


@pytest.mark.parametrize("token", [None, "", 42, ["x"], "0" * 64, "\ud800", "é" * 64, "token-of-another-call"])
def test_a_start_without_the_calls_token_is_refused_stores_nothing_and_logs_once(listener, db, app, caplog, token):
    calls.open_call(db, "CA1", "+919812345678", "+1")
    if token == "token-of-another-call":
        token = stream_token(app.config, "CA2")
    assert listener.started("CA1", token) is False
    assert calls.get_call(db, "CA1").stream_started_at is None
    assert [r.message for r in caplog.records] == ["media stream for 'CA1' refused: its token is not the call's"]


def test_the_token_is_bound_to_both_secrets(app):
    config = dict(app.config)
    token = stream_token(config, "CA1")
    assert stream_token({**config, "SECRET_KEY": "another"}, "CA1") != token
    assert stream_token({**config, "TWILIO_AUTH_TOKEN": "another"}, "CA1") != token


def test_a_call_gets_one_stream_only(listener, db, app, caplog):
    calls.open_call(db, "CA1", "+919812345678", "+1")
    token = stream_token(app.config, "CA1")
    assert listener.started("CA1", token) is True
    first = calls.get_call(db, "CA1").stream_started_at
    assert listener.started("CA1", token) is False
    assert calls.get_call(db, "CA1").stream_started_at == first
    assert "already has a stream" in caplog.text


@pytest.mark.parametrize("status", ["completed", "busy", "failed", "no-answer", "canceled"])
def test_an_ended_call_gets_no_stream(listener, db, app, status):
    calls.open_call(db, "CA1", "+919812345678", "+1")
    calls.close_call(db, "CA1", status)
    assert listener.started("CA1", stream_token(app.config, "CA1")) is False
    assert calls.get_call(db, "CA1").stream_started_at is None


def test_final_utterances_are_stored_with_the_class_of_the_whole_transcript(listener, db, stand_in):
    calls.open_call(db, "CA2", "+919812345678", "+1")
    listener.final("CA2", "i want to know", "i want to know", 1.0)
    listener.final("CA2", "the status of my passport verification",
                   "i want to know the status of my passport verification", 3.0)
    stored = calls.get_call(db, "CA2")
    assert stored.transcript == "i want to know the status of my passport verification"
    assert stored.label == "inquiry" and stored.decision is None
    with pytest.raises(queue.Empty):
        stand_in.updates("CA2").get(timeout=0.2)


def test_clear_emergency_is_claimed_and_sent_as_a_live_update(listener, db, stand_in):
    calls.open_call(db, "CA3", "+919812345678", "+1")
    text = "help there is a fire in the building please send the fire brigade"
    listener.final("CA3", text, text, 4.0)
    update = stand_in.updates("CA3").get(timeout=5)
    assert "<Number>+15005550101</Number>" in update["form"]["Twiml"]
    assert 'action="http://localhost/voice/dialled?route=emergency&amp;attempt=1"' in update["form"]["Twiml"]
    stored = calls.get_call(db, "CA3")
    assert stored.routed_early and stored.decision == "emergency"


def test_emergency_after_the_keypad_decided_sends_no_update(listener, db, stand_in):
    calls.open_call(db, "CA4", "+919812345678", "+1")
    calls.claim_decision(db, "CA4", "inquiry", "+15005550102", ["keypad: 2"])
    text = "help there is a fire in the building please send the fire brigade"
    listener.final("CA4", text, text, 4.0)
    with pytest.raises(queue.Empty):
        stand_in.updates("CA4").get(timeout=0.3)
    assert calls.get_call(db, "CA4").decision == "inquiry"


def test_partials_are_throttled(listener, db):
    calls.open_call(db, "CA5", "+919812345678", "+1")
    listener.partial("CA5", "help", 0.5)
    listener.partial("CA5", "help there", 0.7)
    assert calls.get_call(db, "CA5").partial_transcript == "help"


def test_classifier_failure_is_a_fault_not_a_crash(listener, db, monkeypatch):
    calls.open_call(db, "CA6", "+919812345678", "+1")

    def broken(text):
        raise ValueError("model exploded")

    monkeypatch.setattr(listener.classifier, "classify", broken)
    listener.final("CA6", "help", "help", 1.0)
    stored = calls.get_call(db, "CA6")
    assert stored.transcript == "help" and stored.label is None
    assert stored.faults == ["classifier failed: model exploded"]


def test_database_outage_is_logged_not_raised(app, caplog):
    dead = Database().configure("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    listener = CallListener(dead, app.extensions["ivr.classifier"], app.extensions["ivr.live"], app.config, DIALLED)
    assert listener.started("CA7") is None
    listener.final("CA7", "help", "help", 1.0)
    listener.stopped("CA7", "help", 1.0)
    assert listener.errors == 3 and "final for CA7 failed" in caplog.text


def test_places_numbers_and_names_heard_are_stored_with_the_call(listener, db):
    calls.open_call(db, "CA8", "+919812345678", "+1")
    text = "my name is ramesh kumar there is a fight near the bus stand in sector twelve"
    listener.final("CA8", text, text, 3.0)
    assert calls.get_call(db, "CA8").entities == {"phones": [], "places": ["bus stand", "sector 12"],
                                                   "names": ["Ramesh Kumar"]}


def test_final_utterances_are_kept_as_turns_timed_from_the_calls_arrival(listener, db):
    arrived = utcnow() - timedelta(seconds=65)
    calls.open_call(db, "CA1", "+919812345678", "+1", created_at=arrived)
    listener.final("CA1", "there is a fire", "there is a fire", 1.0)
    listener.final("CA1", "", "there is a fire", 1.2)          # an empty final is no turn
    listener.final("CA1", "at sector twelve", "there is a fire at sector twelve", 2.0)
    turns = calls.get_call(db, "CA1").turns
    assert [turn["text"] for turn in turns] == ["there is a fire", "at sector twelve"]
    assert 65 <= turns[0]["at"] <= turns[1]["at"] < 125
