"""The keypad gate in front of risky callers and flooded lines, and rejection reasons stored on the call."""
import pytest

from ivr.store import calls, holds
from ivr.store.models import utcnow

from conftest import call_params
from helpers import answer, twiml, verbs


def gated(twilio_post, **extra):
    sid, root = answer(twilio_post, From="anonymous", StirVerstat="TN-Validation-Failed-C", **extra)
    return sid, root


def gate(twilio_post, sid, digit=None, attempt=1):
    return twiml(twilio_post(f"/voice/gate?attempt={attempt}", {**call_params(sid), "Digits": digit}))


def test_high_risk_caller_meets_the_keypad_gate(twilio_post, db):
    sid, root = gated(twilio_post)
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root.find("Gather")
    assert {k: gather.get(k) for k in ("input", "numDigits", "action", "actionOnEmptyResult")} == {
        "input": "dtmf", "numDigits": "1", "action": "http://localhost/voice/gate?attempt=1",
        "actionOnEmptyResult": "true"}
    assert "press 1" in gather.find("Say").text and "press 5" in gather.find("Say").text
    assert root.find("Redirect").text == "http://localhost/voice/gate?attempt=1"
    stored = calls.get_call(db, sid)
    assert list(stored.flags) == ["caller-id", "spoof-risk", "gate"] and stored.risk == pytest.approx(0.7)
    assert stored.decision is None and stored.block_reason is None


def test_pressing_1_at_the_gate_continues_into_the_normal_answer(twilio_post, db):
    sid, _ = gated(twilio_post)
    root = gate(twilio_post, sid, "1")
    assert verbs(root) == ["Start", "Gather", "Gather", "Redirect"]
    assert root.find("Start/Stream/Parameter").get("value") == sid
    assert root.find("Gather").get("action") == "http://localhost/voice/keypad?attempt=1"
    assert calls.get_call(db, sid).decision is None


def test_pressing_5_at_the_gate_is_a_silent_emergency_for_the_operator(twilio_post, db):
    sid, _ = gated(twilio_post)
    root = gate(twilio_post, sid, "5")
    assert verbs(root) == ["Say", "Dial"] and root.find("Dial/Number").text == "+15005550100"
    stored = calls.get_call(db, sid)
    assert (stored.decision, stored.digit) == ("operator", "5")
    assert "silent-caller" in stored.flags


def test_no_key_at_the_gate_gets_one_more_chance_then_ends_blank(twilio_post, db):
    sid, _ = gated(twilio_post)
    retry = gate(twilio_post, sid, None, attempt=1)
    assert verbs(retry) == ["Gather", "Redirect"]
    assert "press 5" in retry.find("Gather/Say").text
    assert retry.find("Gather").get("action") == "http://localhost/voice/gate?attempt=2"
    end = gate(twilio_post, sid, None, attempt=2)
    assert verbs(end) == ["Say", "Hangup"]
    stored = calls.get_call(db, sid)
    assert stored.decision == "blank"
    assert stored.reasons[-1] == "blank: no key at the keypad gate after the silent-caller prompt"


def test_wrong_key_twice_at_the_gate_lets_the_person_through(twilio_post, db):
    sid, _ = gated(twilio_post)
    assert verbs(gate(twilio_post, sid, "7", attempt=1)) == ["Gather", "Redirect"]
    assert verbs(gate(twilio_post, sid, "7", attempt=2))[0] == "Start"


def test_gate_for_an_unknown_call_goes_to_the_operator(twilio_post):
    root = gate(twilio_post, "CA-never-seen", "1")
    assert root.find("Dial/Number").text == "+15005550100"


def test_gate_checks_the_signature(client):
    assert client.post("/voice/gate", data=call_params(), headers={"X-Twilio-Signature": "x"}).status_code == 403


def test_blank_at_the_gate_counts_against_a_real_number(twilio_post, db, app):
    app.config["SCREEN_GATE_RISK"] = 0.0       # everyone meets the gate
    sid, root = answer(twilio_post, From="+919812345678")
    assert verbs(root) == ["Gather", "Redirect"]
    gate(twilio_post, sid, None, attempt=2)
    assert holds.blank_count(db, "+919812345678", utcnow()) == 1


def test_policy_block_rejects_and_stores_the_reason(twilio_post, db):
    holds.place(db, "+919812345678", "block", "10 blank calls on 2026-11-21", utcnow(), 24)
    sid, root = answer(twilio_post)
    assert verbs(root) == ["Reject"]
    stored = calls.get_call(db, sid)
    assert stored.decision == "reject" and list(stored.flags) == ["blocked"]
    assert stored.block_reason.startswith("policy-block: 10 blank calls on 2026-11-21 (until ")


def test_screening_off_answers_everyone_without_checks(twilio_post, db, app):
    app.config["SCREEN_ENABLED"] = False
    sid, root = gated(twilio_post)
    assert verbs(root)[0] == "Start"
    assert calls.get_call(db, sid).reasons == []


def test_flooded_line_puts_every_caller_behind_the_gate(twilio_post, db):
    roots = [answer(twilio_post, From=f"+9198123456{i:02d}")[1] for i in range(6)]
    assert [verbs(root)[0] for root in roots] == ["Start"] * 4 + ["Gather"] * 2
    assert "To reach the police, press 1" in roots[-1].find("Gather/Say").text
