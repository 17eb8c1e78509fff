"""The Waiting page and /api/queue: who waits in the hold queue, and operators taking the next caller."""
import threading
import xml.etree.ElementTree as ET

from ivr.call.routing import LiveCalls
from ivr.store import audit, calls, operators, waiting
from ivr.vocabulary import Flag, Route

from conftest import call_params
from helpers import PASSWORD, answer, csrf, heard, sign_in


def queued(twilio_post, db, route=Route.INQUIRY, label="inquiry", flags=None, **extra):
    sid, _ = answer(twilio_post, **extra)
    heard(db, sid, "some words", label, 0.9)
    calls.claim_decision(db, sid, route, flags=flags)
    twilio_post("/voice/dialled?route=operator", {**call_params(sid), "DialCallStatus": "no-answer"})
    return sid


def take(client):
    return client.post("/queue/next", data={"csrf_token": csrf(client)}, follow_redirects=True)


def dialled_by_update(stand_in, sid):
    """The TwiML the app sent to SID through the REST stand-in."""
    update = stand_in.updates(sid).get(timeout=5)
    return ET.fromstring(update["form"]["Twiml"])


def test_waiting_page_lists_callers_next_first_with_priority_class_and_flags(operator_client, twilio_post, db):
    caller = queued(twilio_post, db)
    prank = queued(twilio_post, db, Route.OPERATOR, "spam", {Flag.SPAM_READING: "classifier: spam <b>0.93</b>"})
    emergency = queued(twilio_post, db, Route.EMERGENCY, "emergency")
    page = operator_client.get("/queue").text
    assert page.index(emergency) < page.index(caller) < page.index(prank)
    assert "spam-reading" in page and "&lt;b&gt;0.93" in page and "<b>0.93" not in page
    assert ">emergency<" in page and ">caller<" in page and "min" in page
    assert 'action="/queue/next"' in page and 'href="/queue"' in page


def test_take_next_dials_the_highest_priority_caller_to_the_operator_and_audits_it(operator_client, twilio_post,
                                                                                    db, stand_in):
    caller = queued(twilio_post, db)
    emergency = queued(twilio_post, db, Route.EMERGENCY, "emergency")
    response = take(operator_client)
    assert "Connecting +919812345678 to +15005550100." in response.text
    root = dialled_by_update(stand_in, emergency)
    assert [verb.tag for verb in root] == ["Say", "Dial"] and root.find("Dial/Number").text == "+15005550100"
    assert root.find("Dial").get("action") == "http://localhost/voice/dialled?route=operator"
    stored = calls.get_call(db, emergency)
    assert stored.taken_by == "op asha" and stored.taken_at is not None
    assert [call.sid for call in waiting.waiting(db)] == [caller]
    [logged] = audit.recent(db, target=emergency)
    assert (logged.actor, logged.action, logged.before["taken_by"], logged.after["taken_by"]) == \
        ("op asha", "queue.take", None, "op asha")


def test_an_operator_with_a_phone_gets_the_caller_on_it(app, db, twilio_post, stand_in):
    operators.create(db, "meena", PASSWORD, "operator", "sip:meena@pbx.example.org")
    client = app.test_client()
    assert sign_in(client, "meena").status_code == 302     # after the create: a password reset signs out
    sid = queued(twilio_post, db)
    assert "to sip:meena@pbx.example.org" in take(client).text
    assert dialled_by_update(stand_in, sid).find("Dial/Sip").text == "sip:meena@pbx.example.org"


def test_nobody_waiting_is_said_plainly(operator_client):
    assert "Nobody is waiting." in take(operator_client).text


def test_when_twilio_refuses_the_update_the_caller_stays_queued_and_the_error_is_shown(operator_client,
                                                                                        twilio_post, db, app):
    app.extensions["ivr.live"] = LiveCalls({**app.config, "TWILIO_API_BASE": "http://127.0.0.1:1"})
    sid = queued(twilio_post, db)
    response = take(operator_client)
    assert "Could not connect +919812345678" in response.text and "still waiting" in response.text
    assert [call.sid for call in waiting.waiting(db)] == [sid] and calls.get_call(db, sid).taken_by is None
    assert [entry.action for entry in audit.recent(db, target=sid)] == ["queue.give-back", "queue.take"]


def test_two_operators_taking_at_once_never_take_the_same_caller(twilio_post, db):
    only = queued(twilio_post, db)
    start, results = threading.Barrier(4), {}

    def operator(name):
        start.wait()
        results[name] = waiting.take_next(db, name)
    threads = [threading.Thread(target=operator, args=(f"op {n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    winners = {name: call.sid for name, call in results.items() if call is not None}
    assert list(winners.values()) == [only] and len(results) == 4
    assert calls.get_call(db, only).taken_by == next(iter(winners))


def test_two_operators_with_two_callers_get_one_each(twilio_post, db):
    first, second = queued(twilio_post, db), queued(twilio_post, db)
    start, results = threading.Barrier(2), []

    def operator(name):
        start.wait()
        results.append(waiting.take_next(db, name).sid)
    threads = [threading.Thread(target=operator, args=(f"op {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(results) == sorted([first, second])


def test_queue_api_needs_the_key(client, app):
    app.config["IVR_API_KEY"] = "k" * 40
    assert client.get("/api/queue").status_code == 401
    assert client.post("/api/queue/next").status_code == 401
    assert client.post("/api/queue/next", headers={"X-API-Key": "wrong"}).status_code == 401


def test_queue_api_lists_and_takes_the_next_caller(api, twilio_post, db, stand_in):
    assert api("POST", "/api/queue/next").status_code == 404
    caller = queued(twilio_post, db)
    emergency = queued(twilio_post, db, Route.EMERGENCY, "emergency", {Flag.SILENT_CALLER: "keypad: 5"})
    listed = api("GET", "/api/queue").json["waiting"]
    assert [(row["position"], row["sid"], row["priority"], row["class"]) for row in listed] == [
        (1, emergency, "emergency", "emergency"), (2, caller, "caller", "inquiry")]
    assert listed[0]["flags"] == [{"flag": "silent-caller", "reason": "keypad: 5"}] and listed[0]["waited_seconds"] >= 0
    response = api("POST", "/api/queue/next")
    assert response.status_code == 200 and response.json == {"taken": emergency, "to": "+15005550100",
                                                              "from": "+919812345678"}
    assert dialled_by_update(stand_in, emergency).find("Dial/Number").text == "+15005550100"
    assert calls.get_call(db, emergency).taken_by == "api"


def test_queue_api_reports_a_refused_update_and_keeps_the_caller(api, twilio_post, db, app):
    app.extensions["ivr.live"] = LiveCalls({**app.config, "TWILIO_API_BASE": "http://127.0.0.1:1"})
    sid = queued(twilio_post, db)
    response = api("POST", "/api/queue/next")
    assert response.status_code == 502 and "still waiting" in response.json["error"]
    assert [call.sid for call in waiting.waiting(db)] == [sid]


def test_operator_create_stores_a_phone_in_e164(runner, db):
    result = runner.invoke(args=["operator", "create", "ravi", "--password-stdin", "--phone", "98123 45678"],
                           input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert operators.authenticate(db, "ravi", "correct horse battery").phone == "+919812345678"
    result = runner.invoke(args=["operator", "create", "ravi", "--password-stdin", "--phone", "call me"],
                           input="correct horse battery\n")
    assert result.exit_code != 0 and "not a phone number" in result.output
