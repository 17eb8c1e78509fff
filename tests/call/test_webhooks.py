
import hashlib
import hmac

import pytest

from ivr.store import actions, callbacks, calls

from conftest import TOKEN, call_params
from helpers import answer, heard, keypad, twiml, verbs



def test_answer_streams_prompts_listens_then_asks_for_a_key(twilio_post, db, app):
    sid, root = answer(twilio_post)
    assert verbs(root) == ["Start", "Gather", "Gather", "Redirect"]
    stream = root.find("Start/Stream")
    assert stream.get("url") == "ws://localhost/media" and stream.get("track") == "inbound_track"
    key = hmac.new(app.config["SECRET_KEY"].encode(), b"ivr media-stream token v1\0" + TOKEN.encode(),
                   hashlib.sha256).digest()
    token = hmac.new(key, sid.encode(), hashlib.sha256).hexdigest()     # HMAC-SHA256(key, CallSid)
    assert [(p.get("name"), p.get("value")) for p in stream.findall("Parameter")] == [("call_sid", sid),
                                                                                      ("token", token)]
    listening, menu = root.findall("Gather")
    keys = ("input", "numDigits", "timeout", "action", "actionOnEmptyResult", "method")
    # the prompt + listening window: a key (5) can be pressed at once; silence falls through to the menu
    assert {k: listening.get(k) for k in keys} == {
        "input": "dtmf", "numDigits": "1", "timeout": "8", "action": "http://localhost/voice/keypad?attempt=1",
        "actionOnEmptyResult": None, "method": "POST"}
    prompt = listening.find("Say")
    assert prompt.get("voice") == "Polly.Aditi" and prompt.get("language") == "en-IN"
    assert "what has happened" in prompt.text and "press 5" in prompt.text
    assert {k: menu.get(k) for k in keys} == {
        "input": "dtmf", "numDigits": "1", "timeout": "6", "action": "http://localhost/voice/keypad?attempt=1",
        "actionOnEmptyResult": "true", "method": "POST"}
    assert "press 5" in menu.find("Say").text
    assert root.find("Redirect").text == "http://localhost/voice/keypad?attempt=1"
    stored = calls.get_call(db, sid)
    assert (stored.from_number, stored.status, stored.decision) == ("+919812345678", "ringing", None)


def test_public_url_is_used_for_signatures_and_the_stream(app, client, db):
    from conftest import sign

    app.config["PUBLIC_URL"] = "https://ivr.example.org"
    params = call_params()
    response = client.post("/voice", data=params,
                           headers={"X-Twilio-Signature": sign("https://ivr.example.org/voice", params)})
    root = twiml(response)
    assert root.find("Start/Stream").get("url") == "wss://ivr.example.org/media"
    assert root.find("Gather").get("action") == "https://ivr.example.org/voice/keypad?attempt=1"


@pytest.mark.parametrize("signature", ["", "forged", None])
def test_unsigned_or_forged_webhooks_are_refused_and_store_nothing(client, db, signature):
    params = call_params()
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    assert client.post("/voice", data=params, headers=headers).status_code == 403
    assert calls.get_call(db, params["CallSid"]) is None


@pytest.mark.parametrize("path", ["/voice/keypad", "/voice/status", "/voice/dialled", "/voice/fallback"])
def test_every_webhook_checks_the_signature(client, path):
    assert client.post(path, data=call_params(), headers={"X-Twilio-Signature": "x"}).status_code == 403


def test_signature_over_other_params_is_refused(client, db):
    from conftest import sign

    params = call_params()
    signature = sign("http://localhost/voice", {**params, "From": "+15005550006"})
    assert client.post("/voice", data=params, headers={"X-Twilio-Signature": signature}).status_code == 403


def test_spam_listed_caller_is_rejected_unanswered(twilio_post, db):
    actions.add_spam(db, "+15005550006", "robocaller", "op 17")
    sid, root = answer(twilio_post, From="+15005550006")
    assert verbs(root) == ["Reject"] and root.find("Reject").get("reason") == "rejected"
    stored = calls.get_call(db, sid)
    assert stored.decision == "reject" and stored.reasons[0].startswith("spam-list: robocaller")


@pytest.mark.parametrize("raw_from", [None, "", "anonymous", "x" * 10000, "<script>", "+1" + "9" * 5000])
def test_absurd_caller_ids_are_answered(twilio_post, db, raw_from):
    sid, root = answer(twilio_post, From=raw_from)
    assert verbs(root)[0] == "Start"
    stored = calls.get_call(db, sid)
    assert len(stored.from_number) <= 64 and stored.reasons


def test_no_call_sid_goes_to_the_operator(twilio_post):
    root = twiml(twilio_post("/voice", {"From": "+919812345678"}))
    assert verbs(root) == ["Say", "Dial"] and root.find("Dial/Number").text == "+15005550100"


def test_retried_incoming_webhook_answers_again_without_a_second_record(twilio_post, db):
    params = call_params()
    twiml(twilio_post("/voice", params))
    twiml(twilio_post("/voice", params))
    with db.session() as session:
        from sqlalchemy import func, select

        from ivr.store.models import Call
        assert session.scalar(select(func.count()).select_from(Call)) == 1



@pytest.mark.parametrize("digit, label, confidence, target", [
    ("1", None, 0.0, "+15005550101"),
    ("2", "inquiry", 0.9, "+15005550102"),
    ("3", "complaint", 0.9, "+15005550103"),
    ("5", None, 0.0, "+15005550100"),
    ("2", "complaint", 0.9, "+15005550100"),
    ("9", "inquiry", 0.9, "+15005550102"),
    (None, "emergency", 0.7, "+15005550101"),
    ("1", "spam", 0.95, "+15005550100"),
    ("12", None, 0.0, "+15005550100"),
    ("abc", "complaint", 0.9, "+15005550103"),
])
def test_keypad_routes_to_the_desk(twilio_post, db, digit, label, confidence, target):
    sid, _ = answer(twilio_post)
    heard(db, sid, "something was said", label, confidence)
    root = keypad(twilio_post, sid, digit)
    assert verbs(root) == ["Say", "Dial"]
    dial = root.find("Dial")
    assert dial.find("Number").text == target
    assert dial.get("action").startswith("http://localhost/voice/dialled?route=")
    stored = calls.get_call(db, sid)
    assert stored.decision == dial.get("action").split("route=")[1].split("&")[0]
    assert stored.route_target == target and stored.decided_at is not None


@pytest.mark.parametrize("words", ["you have won a cruise",
                                   "this is constable sharma calling from sector five police station we need backup"])
def test_a_keyless_caller_whose_words_read_as_spam_reaches_a_human_flagged(twilio_post, db, words):
    """Principle 1: a classifier's reading never ends a call, however sure (DESIGN principle 3)."""
    sid, _ = answer(twilio_post)
    heard(db, sid, words, "spam", 0.97)
    root = keypad(twilio_post, sid, None)
    assert verbs(root) == ["Say", "Dial"] and root.find("Dial/Number").text == "+15005550100"
    stored = calls.get_call(db, sid)
    assert stored.decision == "operator" and stored.flags == {"spam-reading": "keypad: none and classifier: spam 0.97"}


def test_silent_caller_gets_one_more_chance_then_ends_as_blank(twilio_post, db):
    sid, _ = answer(twilio_post)
    heard(db, sid, "", voice=0.0)
    retry = keypad(twilio_post, sid, None, attempt=1)
    assert verbs(retry) == ["Gather", "Redirect"]
    assert "press 5" in retry.find("Gather/Say").text
    assert retry.find("Gather").get("action") == "http://localhost/voice/keypad?attempt=2"
    assert calls.get_call(db, sid).decision is None
    end = keypad(twilio_post, sid, None, attempt=2)
    assert verbs(end) == ["Say", "Hangup"]
    stored = calls.get_call(db, sid)
    assert stored.decision == "blank" and stored.attempts == 2
    assert stored.reasons == ["blank: no speech and no key after the silent-caller prompt"]


def test_silent_caller_pressing_5_at_the_retry_reaches_the_operator(twilio_post, db):
    sid, _ = answer(twilio_post)
    heard(db, sid, "", voice=0.0)
    keypad(twilio_post, sid, None, attempt=1)
    root = keypad(twilio_post, sid, "5", attempt=2)
    assert root.find("Dial/Number").text == "+15005550100"
    assert calls.get_call(db, sid).flags == {"silent-caller": "keypad: 5"}


def test_media_stream_that_never_connected_sends_the_caller_to_the_operator(twilio_post, db):
    sid, _ = answer(twilio_post)
    root = keypad(twilio_post, sid, "2")
    assert root.find("Dial/Number").text == "+15005550100"
    assert "fault: media stream never connected" in calls.get_call(db, sid).reasons


def test_speech_engine_fault_sends_the_caller_to_the_operator(twilio_post, db):
    sid, _ = answer(twilio_post)
    heard(db, sid, "", voice=1.0)
    calls.add_fault(db, sid, "speech engine failed: boom")
    root = keypad(twilio_post, sid, "2")
    assert root.find("Dial/Number").text == "+15005550100"


def test_keypad_after_an_early_route_repeats_that_route(twilio_post, db):
    sid, _ = answer(twilio_post)
    calls.claim_decision(db, sid, "emergency", "+15005550101", ["early"], early=True)
    root = keypad(twilio_post, sid, "3")
    assert root.find("Dial/Number").text == "+15005550101"


def test_an_early_route_the_keypad_followed_survives_its_failed_live_update(twilio_post, db):
    """The live update hangs, the keypad dials the emergency desk itself, then the update fails: the record keeps
    the decision (the caller was dialled) and no false 'dropped' callback is queued."""
    sid, _ = answer(twilio_post, From="+919812345678")
    claimed = ("classifier: emergency 0.95", "early: routed while the caller was speaking")
    calls.claim_decision(db, sid, "emergency", "+15005550101", claimed, early=True)
    assert keypad(twilio_post, sid, None).find("Dial/Number").text == "+15005550101"
    calls.release_decision(db, sid, claimed, {}, "early route failed: timed out")
    stored = calls.get_call(db, sid)
    assert stored.decision == "emergency" and stored.faults == ["early route failed: timed out"]
    twilio_post("/voice/dialled?route=emergency", {**call_params(sid), "DialCallStatus": "completed"})
    assert twilio_post("/voice/status", {**call_params(sid), "CallStatus": "completed"}).status_code == 204
    assert callbacks.pending(db) == []


def test_keypad_after_a_released_early_route_decides_again(twilio_post, db):
    sid, _ = answer(twilio_post)
    heard(db, sid, "my passport application", "inquiry", 0.9)
    claimed = ("classifier: emergency 0.95",)
    calls.claim_decision(db, sid, "emergency", "+15005550101", claimed, early=True)
    calls.release_decision(db, sid, claimed, {}, "early route failed: 500")
    root = keypad(twilio_post, sid, "2")
    assert root.find("Dial/Number").text == "+15005550100"        # a fault on the call: the operator
    assert calls.get_call(db, sid).decision == "operator"


def test_keypad_for_an_unknown_call_goes_to_the_operator(twilio_post, db):
    root = keypad(twilio_post, "CA-never-seen", "2")
    assert root.find("Dial/Number").text == "+15005550100"
    assert calls.get_call(db, "CA-never-seen") is None


@pytest.mark.parametrize("attempt", ["abc", "-4", "999999999999", ""])
def test_garbage_attempt_numbers_are_clamped(twilio_post, db, attempt):
    sid, _ = answer(twilio_post)
    heard(db, sid, "", voice=0.0)
    root = twiml(twilio_post(f"/voice/keypad?attempt={attempt}", call_params(sid)))
    assert verbs(root)[0] in ("Gather", "Say")


def test_internal_fault_in_a_webhook_routes_to_the_operator(twilio_post, db, monkeypatch):
    from ivr.call import flow

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(flow, "after_keypad", broken)
    sid, _ = answer(twilio_post)
    root = keypad(twilio_post, sid, "2")
    assert verbs(root) == ["Say", "Dial"] and root.find("Dial/Number").text == "+15005550100"


def test_sip_routes_dial_sip(twilio_post, app, db):
    app.config["ROUTE_INQUIRY"] = "sip:inquiry@pbx.example.org"
    sid, _ = answer(twilio_post)
    heard(db, sid, "status of my fir", "inquiry", 0.9)
    root = keypad(twilio_post, sid, "2")
    assert root.find("Dial/Sip").text == "sip:inquiry@pbx.example.org"


def test_status_callback_closes_the_call_idempotently(twilio_post, db):
    sid, _ = answer(twilio_post)
    done = {**call_params(sid), "CallStatus": "completed", "CallDuration": "37"}
    assert twilio_post("/voice/status", done).status_code == 204
    assert twilio_post("/voice/status", done).status_code == 204
    late = {**call_params(sid), "CallStatus": "in-progress", "CallDuration": "40"}
    assert twilio_post("/voice/status", late).status_code == 204
    stored = calls.get_call(db, sid)
    assert (stored.status, stored.duration) == ("completed", 37) and stored.ended_at is not None


def test_status_for_an_unknown_call_is_accepted_and_ignored(twilio_post, db):
    assert twilio_post("/voice/status", {**call_params("CA-none"), "CallStatus": "completed"}).status_code == 204
    assert calls.get_call(db, "CA-none") is None


@pytest.mark.parametrize("route, status, expected", [
    ("emergency", "completed", ["Hangup"]),
    ("inquiry", "answered", ["Hangup"]),
    ("emergency", "no-answer", ["Say", "Dial"]),
    ("complaint", "busy", ["Say", "Dial"]),
    ("operator", "no-answer", ["Enqueue"]),
    ("operator", "failed", ["Enqueue"]),
    ("nonsense", "busy", ["Enqueue"]),
])
def test_dial_outcomes(twilio_post, db, route, status, expected):
    """A desk that does not answer hands over to the operator; an operator who does not answer (once) puts the
    caller in the hold queue: never a goodbye."""
    sid, _ = answer(twilio_post)
    root = twiml(twilio_post(f"/voice/dialled?route={route}", {**call_params(sid), "DialCallStatus": status}))
    assert verbs(root) == expected
    stored = calls.get_call(db, sid)
    assert (stored.connected_at is not None) == (expected == ["Hangup"])
    assert (stored.queued_at is not None) == (expected == ["Enqueue"])
    if "Dial" in expected:
        assert root.find("Dial/Number").text == "+15005550100"
        assert root.find("Dial").get("action") == "http://localhost/voice/dialled?route=operator"
    if "Enqueue" in expected:
        enqueue = root.find("Enqueue")
        assert (enqueue.text, dict(enqueue.attrib)) == ("ivr-hold", {
            "waitUrl": "http://localhost/voice/wait", "waitUrlMethod": "POST",
            "action": "http://localhost/voice/left-queue", "method": "POST"})


def test_a_hangup_stored_by_an_older_version_is_carried_out_as_the_operator(twilio_post, db):
    sid, _ = answer(twilio_post)
    calls.claim_decision(db, sid, "hangup", reasons=["classifier: spam 0.97"])
    root = keypad(twilio_post, sid, None)
    assert verbs(root) == ["Say", "Dial"] and root.find("Dial/Number").text == "+15005550100"


def test_fallback_dials_the_operator(twilio_post):
    root = twiml(twilio_post("/voice/fallback", call_params()))
    assert root.find("Dial/Number").text == "+15005550100"


def test_oversized_webhook_is_refused(client):
    response = client.post("/voice", data={"From": "x" * 70000}, headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 413


def test_health_reports_database_and_engine(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json["database"] == "ok" and response.json["speech_engine"] == "pocketsphinx"


@pytest.mark.parametrize("duration", ["²", "٣", "3.5", "-1", "x" * 100, "1" * 9])
def test_a_call_duration_that_is_not_whole_seconds_is_refused(twilio_post, db, duration):
    sid, _ = answer(twilio_post)
    response = twilio_post("/voice/status", {**call_params(sid), "CallStatus": "completed", "CallDuration": duration})
    assert response.status_code == 400 and b"CallDuration" in response.data
    assert calls.get_call(db, sid).status != "completed"
