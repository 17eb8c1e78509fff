"""Beyond recognition capacity: the caller is answered at once with the keypad menu, flagged, and routed by key."""
import time

import pytest

from ivr.store import calls

from conftest import make_app
from helpers import answer, heard, keypad, twiml, verbs

SHED = "speech-shed"


@pytest.fixture
def app(database_url, stand_in):
    """One recognition slot on this machine: the second simultaneous caller is beyond capacity."""
    app = make_app(database_url, stand_in, IVR_RECOGNITION_SLOTS=1)
    yield app
    app.extensions["ivr.changes"].close()
    app.extensions["ivr.db"].dispose()


def test_the_second_simultaneous_caller_is_answered_with_the_keypad_menu_and_flagged(twilio_post, db):
    first_sid, first = answer(twilio_post)
    sid, root = answer(twilio_post)
    assert verbs(first) == ["Start", "Gather", "Gather", "Redirect"]       # prompt + listening window, then menu
    assert SHED not in calls.get_call(db, first_sid).flags
    # the same stream (voice and machine signs are still heard), then the menu at once: no prompt to speak
    assert verbs(root) == ["Start", "Gather", "Redirect"]
    assert [p.get("name") for p in root.findall("Start/Stream/Parameter")] == ["call_sid", "token"]
    menu = root.find("Gather")
    assert (menu.get("actionOnEmptyResult"), menu.get("action")) == ("true", "http://localhost/voice/keypad?attempt=1")
    assert menu.find("Say").text.startswith("Police control room. If this is an emergency, press 1.")
    assert "press 5" in menu.find("Say").text
    assert calls.get_call(db, sid).flags == {
        SHED: "overload: all 1 recognition slots busy when the call was answered; keypad menu only"}


@pytest.mark.parametrize("digit, target", [("1", "+15005550101"), ("2", "+15005550102"), ("3", "+15005550103"),
                                           ("5", "+15005550100")])
def test_a_shed_caller_is_routed_by_the_key_not_detoured_to_the_operator(twilio_post, db, digit, target):
    answer(twilio_post)
    sid, _ = answer(twilio_post)
    heard(db, sid, "")                                   # its stream started; no words were recognised
    root = keypad(twilio_post, sid, digit)
    assert root.find("Dial/Number").text == target
    stored = calls.get_call(db, sid)
    assert stored.digit == digit and SHED in stored.flags and not stored.faults
    assert "speech: not recognised (overload)" in stored.reasons


def test_a_shed_caller_who_spoke_and_pressed_nothing_reaches_the_operator_not_a_hangup(twilio_post, db):
    answer(twilio_post)
    sid, _ = answer(twilio_post)
    heard(db, sid, "")
    calls.set_heard(db, sid, time.time(), 2.5)           # the stream heard 2.5 s of voice, and no words
    root = keypad(twilio_post, sid, None, attempt=1)
    assert root.find("Dial/Number").text == "+15005550100"
    stored = calls.get_call(db, sid)
    assert stored.decision == "operator" and stored.attempts == 1


def test_a_shed_caller_whose_stream_never_connected_reaches_the_operator(twilio_post, db):
    answer(twilio_post)
    sid, _ = answer(twilio_post)
    for attempt in (1, 2):
        root = keypad(twilio_post, sid, None, attempt=attempt)
        if root.find("Dial") is not None:
            break
    assert root.find("Dial/Number").text == "+15005550100" and calls.get_call(db, sid).decision == "operator"


@pytest.mark.parametrize("digit, target", [("1", "+15005550101"), ("2", "+15005550102")])
def test_a_shed_caller_whose_stream_has_not_started_yet_is_still_routed_by_the_key(twilio_post, db, digit, target):
    """A loaded media pool may start a stream after the key press: the stream only measures voice on a shed call,
    so the key stands (it went to the operator as a fault)."""
    answer(twilio_post)
    sid, _ = answer(twilio_post)
    root = keypad(twilio_post, sid, digit)
    assert root.find("Dial/Number").text == target
    stored = calls.get_call(db, sid)
    assert stored.digit == digit and SHED in stored.flags and not stored.faults
    assert stored.reasons[-2:] == ["speech: not recognised (overload)", "stream: not started by the key press"]


def test_a_shed_caller_in_silence_is_blank_only_after_the_silent_caller_prompt(twilio_post, db):
    """The stream measured the silence (voice energy needs no recognition slot): the existing blank policy."""
    answer(twilio_post)
    sid, _ = answer(twilio_post)
    heard(db, sid, "")
    calls.set_heard(db, sid, time.time(), 0.0)
    retry = keypad(twilio_post, sid, None, attempt=1)
    assert verbs(retry) == ["Gather", "Redirect"] and "press 5" in retry.find("Gather/Say").text
    assert verbs(keypad(twilio_post, sid, None, attempt=2)) == ["Say", "Hangup"]
    assert calls.get_call(db, sid).decision == "blank"


def test_a_slot_is_free_again_when_the_first_callers_stream_ends(app, twilio_post, db):
    slots = app.extensions["ivr.slots"]
    sid, _ = answer(twilio_post)
    slot, why = slots.hold(sid)
    assert why is None
    slot.release()
    _, root = answer(twilio_post)
    assert verbs(root) == ["Start", "Gather", "Gather", "Redirect"]


def test_a_gated_caller_without_recognition_passes_the_gate_to_the_keypad_menu(twilio_post, db):
    answer(twilio_post)
    sid, gate = answer(twilio_post, From="anonymous", StirVerstat="TN-Validation-Failed")
    assert "To reach the police, press 1" in gate.find("Gather/Say").text
    through = twiml(twilio_post("/voice/gate?attempt=1", {"CallSid": sid, "Digits": "1", "From": "anonymous",
                                                           "To": "+15005550001"}))
    assert verbs(through) == ["Gather", "Redirect"]
    assert through.find("Gather").get("actionOnEmptyResult") == "true"


def test_a_call_that_ends_before_its_stream_starts_frees_its_reserved_slot(twilio_post, db):
    sid, _ = answer(twilio_post)
    assert twilio_post("/voice/status", {"CallSid": sid, "CallStatus": "canceled"}).status_code == 204
    _, root = answer(twilio_post)
    assert verbs(root) == ["Start", "Gather", "Gather", "Redirect"]
