"""Whole calls through the hold queue: the simulator's dials ring out, the caller waits, an operator takes them."""
import json
import threading
import time
import urllib.request

import pytest

from ivr.store import callbacks, waiting

from conftest import API_KEY, on_one_backend
from helpers import place

pytestmark = [pytest.mark.e2e, on_one_backend]


def _until(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def _take_next(live_server):
    request = urllib.request.Request(live_server.url + "/api/queue/next", method="POST", data=b"",
                                     headers={"X-API-Key": API_KEY})
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.load(response)


def test_all_desks_ring_out_and_the_caller_is_held_then_taken(live_server, stand_in):
    app, db = live_server.app, live_server.app.extensions["ivr.db"]
    app.config.update(ROUTE_DIAL_TIMEOUT=2, IVR_QUEUE_PAUSE_SECONDS=5, IVR_API_KEY=API_KEY)
    result = {}
    caller = threading.Thread(target=lambda: result.update(zip(("outcome", "stored"), place(
        live_server, stand_in, "--silence", "--digit", "1", "--dial-status", "no-answer,no-answer,completed",
        speed=4))))
    caller.start()
    [held] = _until(lambda: waiting.waiting(db))
    time.sleep(1.0)                     # the caller hears the wait message at least once
    taken = _take_next(live_server)
    caller.join(timeout=60)
    outcome, stored = result["outcome"], result["stored"]
    assert taken == {"taken": held.sid, "to": "+15005550100", "from": "+919812345678"} and outcome["call_sid"] == held.sid
    assert [(dial["target"], dial["status"]) for dial in outcome["dials"]] == [
        ("+15005550101", "no-answer"), ("+15005550100", "no-answer"), ("+15005550100", "completed")]
    assert (outcome["result"], outcome["routed_by"], outcome["queue_result"]) == ("dialled", "live-update", "redirected")
    assert outcome["queue_waits"] >= 1 and outcome["queued_seconds"] > 0
    assert any(said.endswith("you are number 1.") for said in outcome["said"])
    assert stored.decision == "emergency" and stored.queue_priority == 0 and stored.taken_by == "api"
    assert stored.connected_at is not None and stored.queue_result == "redirected"
    assert callbacks.pending(db) == [] and waiting.waiting(db) == []


def test_a_caller_who_gives_up_waiting_is_called_back(live_server, stand_in):
    live_server.app.config.update(ROUTE_DIAL_TIMEOUT=2, IVR_QUEUE_PAUSE_SECONDS=5)
    outcome, stored = place(live_server, stand_in, "--silence", "--prompt-digit", "5", "--dial-status", "no-answer",
                            "--queue-hangup", "12", speed=4)
    assert (outcome["result"], outcome["queue_result"], outcome["verbs"][-1]) == ("hangup", "hangup", "Enqueue")
    assert 12 <= outcome["queued_seconds"] < 20
    assert stored.queue_result == "hangup" and stored.connected_at is None and stored.status == "completed"
    [entry] = callbacks.pending(live_server.app.extensions["ivr.db"])
    assert (entry.call_sid, entry.why, entry.priority) == (stored.sid, "gave-up", 0)   # silent caller: emergency
