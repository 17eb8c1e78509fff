"""The hold queue's webhooks: holding a caller nobody answered, the wait URL's place in our priority order,
leaving the queue, and the callbacks for callers who gave up or were never connected."""
import pytest

from ivr.call import routing
from ivr.store import callbacks, calls, waiting
from ivr.vocabulary import Flag, Priority, Route

from conftest import call_params
from helpers import answer, heard, twiml, verbs

WAIT = "All our operators are busy. Please stay on the line"


def hold(twilio_post, db, route=Route.OPERATOR, label=None, flags=None, **extra):
    """A caller decided for ROUTE whom nobody answered: in the hold queue; returns the sid."""
    sid, _ = answer(twilio_post, **extra)
    if label:
        heard(db, sid, f"words read as {label}", label, 0.9)
    calls.claim_decision(db, sid, route, flags=flags)
    root = twiml(twilio_post("/voice/dialled?route=operator", {**call_params(sid), "DialCallStatus": "no-answer"}))
    assert verbs(root) == ["Enqueue"]
    return sid


def wait(twilio_post, sid):
    return twiml(twilio_post("/voice/wait", {**call_params(sid), "QueuePosition": "1", "QueueTime": "12",
                                             "CurrentQueueSize": "4"}))


def left(twilio_post, sid, result):
    return twilio_post("/voice/left-queue", {**call_params(sid), "QueueResult": result, "QueueTime": "30"})


def test_wait_url_tells_each_caller_their_place_in_priority_order(twilio_post, db):
    caller = hold(twilio_post, db, Route.INQUIRY, "inquiry")
    spam_reading = hold(twilio_post, db, flags={Flag.SPAM_READING: "classifier: spam 0.93"})
    emergency = hold(twilio_post, db, Route.EMERGENCY, "emergency")
    later_caller = hold(twilio_post, db, Route.COMPLAINT, "complaint")
    silent = hold(twilio_post, db, flags={Flag.SILENT_CALLER: "keypad: 5"})
    order = [emergency, silent, caller, later_caller, spam_reading]
    for place, sid in enumerate(order, start=1):
        root = wait(twilio_post, sid)
        assert verbs(root) == ["Say", "Pause"]
        assert root.find("Say").text == f"{WAIT}; you are number {place}."
        assert root.find("Pause").get("length") == "15"
    assert [call.sid for call in waiting.waiting(db)] == order
    assert [call.queue_priority for call in waiting.waiting(db)] == [0, 0, 1, 1, 3]


def test_wait_url_never_faults_and_a_caller_we_do_not_know_still_waits(twilio_post, monkeypatch):
    root = wait(twilio_post, "CA-unknown")
    assert verbs(root) == ["Say", "Pause"] and root.find("Say").text == WAIT + "."

    def broken(*_args):
        raise RuntimeError("database gone")
    monkeypatch.setattr(waiting, "position", broken)
    root = wait(twilio_post, "CA-any")
    assert verbs(root) == ["Say", "Pause"] and root.find("Say").text == WAIT + "."


def test_a_fault_anywhere_in_the_wait_url_keeps_the_caller_waiting(twilio_post, monkeypatch):
    """Wait TwiML cannot <Dial>: the error handler answers the plain wait message, not the operator dial."""
    real, failures = routing.wait_twiml, []

    def fails_once(config, position=None):
        if not failures:
            failures.append(position)
            raise RuntimeError("template broke")
        return real(config, position)
    monkeypatch.setattr(routing, "wait_twiml", fails_once)
    root = wait(twilio_post, "CA-any")
    assert failures == [None] and verbs(root) == ["Say", "Pause"] and root.find("Say").text == WAIT + "."


@pytest.mark.parametrize("path", ["/voice/wait", "/voice/left-queue"])
def test_forged_signatures_are_refused_on_the_queue_webhooks(twilio_post, path):
    assert twilio_post(path, {**call_params(), "QueueResult": "hangup"}, signature="forged").status_code == 403
    assert twilio_post(path, {**call_params(), "QueueResult": "hangup"}, signature="").status_code == 403


def test_a_caller_who_hangs_up_while_waiting_is_called_back_at_the_head_of_their_priority(twilio_post, db):
    dropped, _ = answer(twilio_post, From="+919800000001")
    twilio_post("/voice/status", {**call_params(dropped), "CallStatus": "completed"})
    emergency = hold(twilio_post, db, Route.EMERGENCY, "emergency", From="+919800000002")
    caller = hold(twilio_post, db, Route.INQUIRY, "inquiry", From="+919800000003")
    for sid in (caller, emergency):
        response = left(twilio_post, sid, "hangup")
        assert verbs(twiml(response)) == []
        twilio_post("/voice/status", {**call_params(sid), "CallStatus": "completed"})
    queue = callbacks.pending(db)
    assert [(entry.call_sid, entry.why, entry.priority) for entry in queue] == [
        (emergency, "gave-up", Priority.EMERGENCY), (caller, "gave-up", Priority.CALLER),
        (dropped, "dropped", Priority.UNDECIDED)]
    assert calls.get_call(db, emergency).queue_result == "hangup" and waiting.waiting(db) == []


@pytest.mark.parametrize("result", ["bridged", "redirected"])
def test_a_caller_taken_out_of_the_queue_is_recorded_and_not_called_back(twilio_post, db, result):
    sid = hold(twilio_post, db, Route.EMERGENCY, "emergency")
    assert verbs(twiml(left(twilio_post, sid, result))) == []
    assert calls.get_call(db, sid).queue_result == result and callbacks.pending(db) == []


@pytest.mark.parametrize("result", ["queue-full", "system-error", ""])
def test_a_caller_the_queue_could_not_hold_goes_to_the_operator(twilio_post, db, result):
    sid = hold(twilio_post, db)
    root = twiml(left(twilio_post, sid, result))
    assert verbs(root) == ["Say", "Dial"] and root.find("Dial/Number").text == "+15005550100"
    assert root.find("Dial").get("action") == "http://localhost/voice/dialled?route=operator"


def test_an_operator_who_does_not_answer_a_taken_caller_puts_them_back_in_their_place(twilio_post, db):
    first = hold(twilio_post, db, Route.INQUIRY, "inquiry")
    second = hold(twilio_post, db, Route.INQUIRY, "inquiry")
    assert waiting.take_next(db, "op asha").sid == first
    assert [call.sid for call in waiting.waiting(db)] == [second]
    left(twilio_post, first, "redirected")
    hold_again = twiml(twilio_post("/voice/dialled?route=operator", {**call_params(first), "DialCallStatus": "busy"}))
    assert verbs(hold_again) == ["Enqueue"]
    assert [call.sid for call in waiting.waiting(db)] == [first, second]


def test_a_decided_emergency_never_connected_is_called_back_first(twilio_post, db):
    blank_sid, _ = answer(twilio_post, From="+919800000001")
    calls.claim_decision(db, blank_sid, Route.BLANK)
    callbacks.queue(db, blank_sid, "+919800000001", "blank")
    inquiry, _ = answer(twilio_post, From="+919800000002")
    calls.claim_decision(db, inquiry, Route.INQUIRY)
    emergency, _ = answer(twilio_post, From="+919800000003")
    heard(db, emergency, "there is a fire", "emergency", 0.95)
    calls.claim_decision(db, emergency, Route.EMERGENCY)
    connected, _ = answer(twilio_post, From="+919800000004")
    calls.claim_decision(db, connected, Route.EMERGENCY)
    twilio_post("/voice/dialled?route=emergency", {**call_params(connected), "DialCallStatus": "completed"})
    for sid in (inquiry, emergency, connected):
        assert twilio_post("/voice/status", {**call_params(sid), "CallStatus": "completed"}).status_code == 204
    queue = callbacks.pending(db)
    assert [(entry.call_sid, entry.why, entry.priority) for entry in queue] == [
        (emergency, "unconnected", Priority.EMERGENCY), (inquiry, "unconnected", Priority.CALLER),
        (blank_sid, "blank", Priority.UNDECIDED)]
    assert calls.get_call(db, connected).connected_at is not None
