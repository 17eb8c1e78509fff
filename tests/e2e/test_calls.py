"""Whole calls: the real app on a local port, the simulator playing Twilio, real audio, real PocketSphinx."""
import json
import subprocess
import sys

import pytest

from ivr.store import actions

from conftest import ACCOUNT, TOKEN, on_one_backend
from helpers import place, wav

pytestmark = [pytest.mark.e2e, on_one_backend]

def test_emergency_with_key_1_reaches_the_emergency_desk(live_server, stand_in):
    live_server.app.config["TRIAGE_EMERGENCY_THRESHOLD"] = 1.01     # keypad path only, no early route
    outcome, stored = place(live_server, stand_in, "--wav", wav("emergency_knife"), "--digit", "1")
    assert (outcome["result"], outcome["route_target"], outcome["routed_by"]) == ("dialled", "+15005550101", "keypad")
    assert stored.digit == "1" and stored.label == "emergency" and "knife" in stored.transcript
    assert stored.decision == "emergency" and not stored.routed_early
    assert stored.status == "completed" and stored.duration is not None


def test_inquiry_with_key_2_reaches_the_inquiry_desk(live_server, stand_in):
    outcome, stored = place(live_server, stand_in, "--wav", wav("inquiry_passport"), "--digit", "2")
    assert (outcome["result"], outcome["route_target"]) == ("dialled", "+15005550102")
    assert stored.label == "inquiry" and "verification" in stored.transcript
    assert stored.reasons[:2] == ["keypad: 2", f"classifier: inquiry {stored.confidence:.2f}"]


def test_silence_without_a_key_ends_as_a_blank_call(live_server, stand_in):
    outcome, stored = place(live_server, stand_in, "--silence", speed=6)   # nothing to recognise: go fast
    assert outcome["result"] == "hangup"
    assert outcome["digits_sent"] == ["", ""] and "press 5" in outcome["said"][2]
    assert stored.decision == "blank" and stored.transcript == "" and stored.voice_seconds == 0.0


def test_a_keyless_caller_whose_words_read_as_spam_reaches_a_human(live_server, stand_in):
    """A reading of an 8 kHz transcript never ends a call: the recorded prize pitch, no key, reaches the operator."""
    live_server.app.config["TRIAGE_EMERGENCY_THRESHOLD"] = 1.01     # whatever the words, no early route
    outcome, stored = place(live_server, stand_in, "--wav", wav("spam_prize"), "--digit=--", speed=4)
    assert (outcome["result"], outcome["route_target"]) == ("dialled", "+15005550100")
    assert stored.decision == "operator" and stored.label == "spam"
    assert stored.flags["spam-reading"].startswith("keypad: none and classifier: spam")


def test_spam_listed_number_is_rejected(live_server, stand_in):
    actions.add_spam(live_server.app.extensions["ivr.db"], "+15005550006", "robocaller", "op 17")
    outcome, stored = place(live_server, stand_in, "--from", "+15005550006", "--wav", wav("emergency_fire"))
    assert (outcome["result"], outcome["verbs"]) == ("rejected", ["Reject"])
    assert stored.decision == "reject" and stored.transcript == ""


def test_clear_emergency_is_routed_by_live_update_before_the_keypad(live_server, stand_in):
    # the sentence ends well inside the listening window, even when recognition runs slow on a loaded machine;
    # the call ends at the live update, so the long window costs nothing when it passes
    live_server.app.config["IVR_LISTEN_SECONDS"] = 20
    outcome, stored = place(live_server, stand_in, "--wav", wav("emergency_fire"), "--digit", "3")
    assert (outcome["result"], outcome["route_target"], outcome["routed_by"]) == \
        ("dialled", "+15005550101", "live-update")
    assert outcome["digits_sent"] == [] and outcome["verbs"] == ["Start", "Gather", "Say", "Dial"]   # menu never reached
    assert 0 < outcome["speech_end_to_update_seconds"] < 5
    assert stored.routed_early and stored.decision == "emergency"
    assert "early: routed while the caller was speaking" in stored.reasons


def test_early_route_that_twilio_refuses_leaves_the_call_to_a_human(live_server, stand_in):
    """Principle 1: a failed REST update is an internal fault, so the keypad step sends the caller to the operator."""
    live_server.app.config["IVR_LISTEN_SECONDS"] = 10
    live_server.app.config["TWILIO_API_BASE"] = "http://127.0.0.1:1"   # nothing listens there
    from ivr.call.routing import LiveCalls
    live_server.app.extensions["ivr.live"] = LiveCalls(live_server.app.config)
    outcome, stored = place(live_server, stand_in, "--wav", wav("emergency_fire"), "--digit", "1")
    assert (outcome["result"], outcome["route_target"], outcome["routed_by"]) == ("dialled", "+15005550100", "keypad")
    assert not stored.routed_early and stored.faults[0].startswith("early route failed")
    assert stored.decision == "operator" and any(r.startswith("fault: early route failed") for r in stored.reasons)


def test_simulator_command_speaks_text_and_prints_the_outcome_as_json(live_server, stand_in):
    command = [sys.executable, "-m", "ivr.tools.simulate", "--url", live_server.url, "--auth-token", TOKEN,
               "--account-sid", ACCOUNT, "--speed", "4", "--api-port", "0", "--digit", "3",
               "--say", "my neighbours are playing loud music every night i want to make a complaint"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert (outcome["result"], outcome["route_target"]) == ("dialled", "+15005550103")


def test_caller_who_cannot_speak_presses_5_during_the_prompt_and_reaches_the_operator(live_server, stand_in):
    outcome, stored = place(live_server, stand_in, "--silence", "--prompt-digit", "5", speed=4)
    assert (outcome["result"], outcome["route_target"], outcome["routed_by"]) == ("dialled", "+15005550100", "keypad")
    assert outcome["digits_sent"] == ["5"] and len(outcome["said"]) == 2     # the prompt, then "connecting you"
    assert stored.digit == "5" and "silent-caller" in stored.flags
