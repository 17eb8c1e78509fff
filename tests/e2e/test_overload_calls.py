"""Whole calls beyond recognition capacity: the next caller is answered at once, keypad only, and routed by key."""
import threading
import time

import pytest

from ivr.speech.slots import RecognitionSlots
from ivr.store import calls

from conftest import on_one_backend
from helpers import place, wav

pytestmark = [pytest.mark.e2e, on_one_backend]


def test_with_one_slot_a_second_simultaneous_caller_is_answered_keypad_only_and_routed_by_key(
        live_server, stand_in, tmp_path):
    live_server.app.extensions["ivr.slots"] = slots = RecognitionSlots(tmp_path, 1)
    db = live_server.app.extensions["ivr.db"]
    first = {}
    caller = threading.Thread(target=lambda: first.update(zip(("outcome", "stored"), place(
        live_server, stand_in, "--wav", wav("inquiry_passport"), "--digit", "2"))))
    caller.start()
    deadline = time.monotonic() + 30
    while slots.in_use() == 0 and time.monotonic() < deadline:     # the first call has been answered
        time.sleep(0.05)
    outcome, stored = place(live_server, stand_in, "--wav", wav("emergency_knife"), "--digit", "1")
    caller.join(timeout=120)

    assert outcome["verbs"][:2] == ["Start", "Gather"] and outcome["said"][0].startswith("Police control room. If")
    assert (outcome["result"], outcome["route_target"], outcome["routed_by"]) == ("dialled", "+15005550101", "keypad")
    assert stored.decision == "emergency" and stored.digit == "1" and not stored.faults
    assert stored.flags["speech-shed"].startswith("overload: all 1 recognition slots busy when the call was answered")
    assert not stored.transcript and stored.stream_started_at is not None     # streamed, not recognised
    assert stored.status == "completed"

    assert first["outcome"]["route_target"] == "+15005550102" and "speech-shed" not in first["stored"].flags
    assert first["stored"].transcript            # recognised (8 kHz words: garbled, but words)
    deadline = time.monotonic() + 10
    while slots.in_use() and time.monotonic() < deadline:          # the server finishes the stream after `stop`
        time.sleep(0.05)
    assert slots.in_use() == 0                                      # both streams ended: the slot is free
    assert calls.get_call(db, first["outcome"]["call_sid"]).decision == "inquiry"
