"""The gate in front of risky callers, blocked numbers and flooded lines: it listens for a key or a person's words."""
import pytest

from ivr.store import audit, calls, holds
from ivr.store.models import utcnow
from ivr.triage.classifier import Classification

from conftest import call_params
from helpers import answer, heard, twiml, verbs


def gated(twilio_post, **extra):
    sid, root = answer(twilio_post, From="anonymous", StirVerstat="TN-Validation-Failed-C", **extra)
    return sid, root


def gate(twilio_post, sid, digit=None, attempt=1):
    return twiml(twilio_post(f"/voice/gate?attempt={attempt}", {**call_params(sid), "Digits": digit}))


def test_high_risk_caller_meets_the_keypad_gate(twilio_post, db):
    sid, root = gated(twilio_post)
    assert verbs(root) == ["Start", "Gather", "Redirect"]
    stream = root.find("Start/Stream")
    assert stream.get("url") == "ws://localhost/media" and stream.find("Parameter").get("value") == sid
    gather = root.find("Gather")
    assert {k: gather.get(k) for k in ("input", "numDigits", "action", "actionOnEmptyResult")} == {
        "input": "dtmf", "numDigits": "1", "action": "http://localhost/voice/gate?attempt=1",
        "actionOnEmptyResult": "true"}
    assert all(words in gather.find("Say").text for words in ("press 1", "say what has happened", "press 5"))
    assert root.find("Redirect").text == "http://localhost/voice/gate?attempt=1"
    stored = calls.get_call(db, sid)
    assert list(stored.flags) == ["caller-id", "spoof-risk", "gate"] and stored.risk == pytest.approx(0.7)
    assert stored.decision is None and stored.block_reason is None


def test_pressing_1_at_the_gate_continues_into_the_normal_answer(twilio_post, db):
    sid, _ = gated(twilio_post)
    root = gate(twilio_post, sid, "1")
    assert verbs(root) == ["Gather", "Gather", "Redirect"]      # the gate's stream goes on: no second one
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
    heard(db, sid, "")                 # the stream is up and hears nothing
    retry = gate(twilio_post, sid, None, attempt=1)
    assert verbs(retry) == ["Gather", "Redirect"]
    assert "press 5" in retry.find("Gather/Say").text
    assert retry.find("Gather").get("action") == "http://localhost/voice/gate?attempt=2"
    end = gate(twilio_post, sid, None, attempt=2)
    assert verbs(end) == ["Say", "Hangup"]
    stored = calls.get_call(db, sid)
    assert stored.decision == "blank"
    assert stored.reasons[-1] == "blank: no key and no speech at the gate after the silent-caller prompt"
    assert "blank" in stored.flags


def test_wrong_key_twice_at_the_gate_lets_the_person_through(twilio_post, db):
    sid, _ = gated(twilio_post)
    assert verbs(gate(twilio_post, sid, "7", attempt=1)) == ["Gather", "Redirect"]
    assert verbs(gate(twilio_post, sid, "7", attempt=2)) == ["Gather", "Gather", "Redirect"]


def test_gate_for_an_unknown_call_goes_to_the_operator(twilio_post):
    root = gate(twilio_post, "CA-never-seen", "1")
    assert root.find("Dial/Number").text == "+15005550100"


def test_gate_checks_the_signature(client):
    assert client.post("/voice/gate", data=call_params(), headers={"X-Twilio-Signature": "x"}).status_code == 403


def test_blank_at_the_gate_counts_against_a_real_number(twilio_post, db, app):
    app.config["SCREEN_GATE_RISK"] = 0.0       # everyone meets the gate
    sid, root = answer(twilio_post, From="+919812345678")
    assert verbs(root) == ["Start", "Gather", "Redirect"]
    heard(db, sid, "", voice=0.0)
    gate(twilio_post, sid, None, attempt=2)
    assert holds.blank_count(db, "+919812345678", utcnow()) == 1


def test_a_blocked_number_meets_the_gate_not_a_rejection(twilio_post, db):
    holds.place(db, "+919812345678", "block", "10 blank calls on 2026-11-21", utcnow(), 24)
    sid, root = answer(twilio_post)
    assert verbs(root) == ["Start", "Gather", "Redirect"]
    stored = calls.get_call(db, sid)
    assert stored.decision is None and list(stored.flags) == ["blocked", "gate"] and stored.block_reason is None
    assert stored.flags["blocked"].startswith("policy-block: 10 blank calls on 2026-11-21 (until ")
    assert stored.flags["gate"] == "gate: number under a blank-call block"


@pytest.mark.parametrize("how", ["key 1 then an emergency", "speech read as an emergency"])
def test_a_blocked_numbers_emergency_gets_through_and_lifts_the_block(twilio_post, db, how):
    number = "+919812345678"
    holds.place(db, number, "block", "10 blank calls on 2026-11-21", utcnow(), 24)
    holds.place(db, number, "watch", "4 blank calls on 2026-11-21", utcnow(), 24)
    sid, _ = answer(twilio_post, From=number)
    if how.startswith("key"):
        assert verbs(gate(twilio_post, sid, "1")) == ["Gather", "Gather", "Redirect"]
        heard(db, sid, "please help my father collapsed", "emergency", 0.3)
        root = twiml(twilio_post("/voice/keypad?attempt=1", {**call_params(sid), "Digits": "1"}))
    else:
        heard(db, sid, "there is a fire in my house", "emergency", 0.95)
        assert verbs(gate(twilio_post, sid, None)) == ["Gather", "Gather", "Redirect"]   # a person spoke
        root = twiml(twilio_post("/voice/keypad?attempt=1", call_params(sid)))
    assert root.find("Dial/Number").text == "+15005550101"
    assert holds.active_holds(db, utcnow()) == []
    lifted = [entry for entry in audit.recent(db, target=number) if entry.action == "hold.lift"]
    assert len(lifted) == 2 and lifted[0].actor == f"system: emergency call {sid}"


def test_a_caller_who_talks_at_the_gate_without_a_key_reaches_the_triage(twilio_post, db):
    sid, _ = gated(twilio_post)
    calls.claim_stream(db, sid)
    calls.add_final(db, sid, "someone is following me", 2.5, Classification("complaint", 0.4, {}))
    assert verbs(gate(twilio_post, sid, None, attempt=1)) == ["Gather", "Gather", "Redirect"]
    assert calls.get_call(db, sid).decision is None       # the normal menu and the triage decide, not a goodbye


def test_a_matched_recording_at_the_gate_is_not_a_person_but_is_never_ended_on_it(twilio_post, db):
    sid, _ = gated(twilio_post)
    heard(db, sid, "you have won a lottery", "spam", 0.95)
    calls.add_audio_finding(db, sid, "robocall", "robocall: same recording as call CA1 from +919800000001", 0.4)
    assert verbs(gate(twilio_post, sid, None, attempt=1)) == ["Gather", "Redirect"]          # asked again
    root = gate(twilio_post, sid, None, attempt=2)
    assert root.find("Dial/Number").text == "+15005550100"                                   # a human decides
    stored = calls.get_call(db, sid)
    assert stored.decision == "operator" and {"robocall", "spam-reading"} <= set(stored.flags)


def test_screening_off_answers_everyone_without_checks(twilio_post, db, app):
    app.config["SCREEN_ENABLED"] = False
    sid, root = gated(twilio_post)
    assert verbs(root)[0] == "Start"
    assert calls.get_call(db, sid).reasons == []


def test_flooded_line_puts_every_caller_behind_the_gate(twilio_post, db):
    roots = [answer(twilio_post, From=f"+9198123456{i:02d}")[1] for i in range(6)]
    assert [verbs(root) for root in roots] == [["Start", "Gather", "Gather", "Redirect"]] * 4 + \
        [["Start", "Gather", "Redirect"]] * 2
    assert "To reach the police, press 1" in roots[-1].find("Gather/Say").text
