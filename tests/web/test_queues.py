"""The callback queue and flood-alert pages, their audited actions, and their JSON API."""
import html
from datetime import timedelta

import pytest

from ivr.store import audit, callbacks, floods
from ivr.store.models import utcnow

from conftest import API_KEY

from helpers import csrf

NUMBER = "+919812345678"
LINE = "+15005550001"


def _flashes(response):
    return [html.unescape(line) for line in response.text.splitlines() if 'class="flash' in line]


def _attempt(client, callback_id, outcome="no-answer", note="", **extra):
    data = {"id": str(callback_id), "outcome": outcome, "note": note, "csrf_token": csrf(client), **extra}
    return client.post("/callbacks/attempt", data=data, follow_redirects=True)


def _move(client, alert_id, status, note=""):
    data = {"id": str(alert_id), "status": status, "note": note, "csrf_token": csrf(client)}
    return client.post("/alerts/move", data=data, follow_redirects=True)


def _alert(db, line=LINE, minutes_ago=0):
    return floods.raise_alert(db, line, 6, 5.0, utcnow() - timedelta(minutes=minutes_ago), 300)


def test_queue_page_lists_pending_entries_and_closed_ones_on_request(operator_client, db):
    open_entry = callbacks.queue(db, "CA-open", NUMBER, "dropped")
    done = callbacks.queue(db, "CA-done", "+919800000002", "blank")
    callbacks.record_attempt(db, done.id, "reached", "pocket dial", "op x", 3)
    page = operator_client.get("/callbacks").text
    assert 'href="/calls/CA-open"' in page and NUMBER in page and "dropped" in page
    assert "CA-done" not in page and f'name="id" value="{open_entry.id}"' in page
    page = operator_client.get("/callbacks?all=1").text
    assert page.index("CA-open") < page.index("CA-done") and "reached: pocket dial" in page
    assert f'name="id" value="{done.id}"' not in page      # no form on a closed entry


def test_recording_an_attempt_updates_the_entry_and_the_audit_log(operator_client, db):
    entry = callbacks.queue(db, "CA-1", NUMBER, "dropped")
    response = _attempt(operator_client, entry.id, "busy", "<b>line engaged</b>")
    assert response.status_code == 200 and "attempt 1 busy; now pending" in response.text
    assert "&lt;b&gt;line engaged&lt;/b&gt;" in response.text and "<b>line engaged" not in response.text
    stored = callbacks.get(db, entry.id)
    assert stored.attempts == 1 and stored.outcomes[0]["by"] == "op asha"
    [logged] = audit.recent(db, target=f"callback {entry.id}")
    assert (logged.actor, logged.action) == ("op asha", "callback.attempt")
    assert logged.before == {"status": "pending", "attempts": 0, "last": None}
    assert logged.after["attempts"] == 1 and logged.after["last"]["outcome"] == "busy"


def test_an_entry_closes_after_the_maximum_attempts_or_a_finishing_outcome(operator_client, db, app):
    given_up = callbacks.queue(db, "CA-1", NUMBER, "dropped")
    reached = callbacks.queue(db, "CA-2", NUMBER, "blank")
    for _ in range(app.config["SCREEN_CALLBACK_ATTEMPTS"]):
        response = _attempt(operator_client, given_up.id)
    assert "now given-up" in response.text and callbacks.get(db, given_up.id).status == "given-up"
    assert "now done" in _attempt(operator_client, reached.id, "reached").text
    assert callbacks.pending(db) == []


@pytest.mark.parametrize("callback_id,outcome,message", [
    ("999", "busy", "there is no callback 999"),
    ("abc", "busy", "'abc' is not a callback"),
    ("", "busy", "'' is not a callback"),
    (None, "arrested", "the outcome must be one of"),
])
def test_bad_attempts_are_refused_with_a_message(operator_client, db, callback_id, outcome, message):
    entry = callbacks.queue(db, "CA-1", NUMBER, "dropped")
    response = _attempt(operator_client, entry.id if callback_id is None else callback_id, outcome)
    assert response.status_code == 200 and message in " ".join(_flashes(response))
    assert callbacks.get(db, entry.id).attempts == 0 and audit.recent(db) == []


def test_an_attempt_on_a_closed_entry_is_refused(operator_client, db):
    entry = callbacks.queue(db, "CA-1", NUMBER, "dropped")
    callbacks.record_attempt(db, entry.id, "reached", "", "op x", 3)
    response = _attempt(operator_client, entry.id, "busy")
    assert f"callback {entry.id} is already done" in " ".join(_flashes(response))
    assert callbacks.get(db, entry.id).attempts == 1


@pytest.mark.parametrize("path,data", [("/callbacks/attempt", {"id": "1", "outcome": "busy"}),
                                       ("/alerts/move", {"id": "1", "status": "closed"})])
@pytest.mark.parametrize("token", [None, "forged-token"])
def test_queue_forms_need_the_csrf_token(operator_client, db, path, data, token):
    entry, alert = callbacks.queue(db, "CA-1", NUMBER, "dropped"), _alert(db)
    data = {**data, "id": str(entry.id if path.startswith("/callbacks") else alert.id)}
    if token:
        data["csrf_token"] = token
    assert operator_client.post(path, data=data).status_code == 400
    assert callbacks.get(db, entry.id).attempts == 0 and floods.alerts(db)[0].status == "new"


def test_alerts_page_lists_open_alerts_first(operator_client, db):
    closed, fresh = _alert(db, "+15005550009", minutes_ago=1), _alert(db)
    floods.move(db, closed.id, "closed", "false alarm", "op x")
    page = operator_client.get("/alerts").text
    assert LINE in page and "+15005550009" not in page and "5 s" in page
    page = operator_client.get("/alerts?all=1").text
    assert page.index(LINE) < page.index("+15005550009") and "closed: false alarm" in page
    assert f'name="id" value="{fresh.id}"' in page and f'name="id" value="{closed.id}"' not in page


def test_alert_workflow_through_the_page_is_audited(operator_client, db):
    alert = _alert(db)
    assert "is now investigating" in _move(operator_client, alert.id, "investigating", "asked the carrier").text
    refused = _move(operator_client, alert.id, "new")
    assert "is investigating; it cannot become new" in " ".join(_flashes(refused))
    assert "is now closed" in _move(operator_client, alert.id, "closed", "source blocked").text
    assert "is closed; it cannot become investigating" in " ".join(_flashes(_move(operator_client, alert.id,
                                                                                   "investigating")))
    logged = audit.recent(db, target=f"flood-alert {alert.id}")
    assert [(e.before, e.after) for e in reversed(logged)] == [
        ({"status": "new"}, {"status": "investigating", "note": "asked the carrier"}),
        ({"status": "investigating"}, {"status": "closed", "note": "source blocked"})]
    assert {e.actor for e in logged} == {"op asha"}


@pytest.mark.parametrize("alert_id,status,message", [("999", "closed", "no flood alert 999"),
                                                     ("x1", "closed", "'x1' is not a flood alert"),
                                                     (None, "resolved", "status must be one of")])
def test_bad_moves_are_refused_with_a_message(operator_client, db, alert_id, status, message):
    alert = _alert(db)
    response = _move(operator_client, alert.id if alert_id is None else alert_id, status)
    assert response.status_code == 200 and message in " ".join(_flashes(response))
    assert floods.alerts(db)[0].status == "new" and audit.recent(db) == []


def test_both_pages_are_in_the_navigation(operator_client):
    page = operator_client.get("/").text
    assert 'href="/callbacks"' in page and 'href="/alerts"' in page


@pytest.mark.parametrize("method,path", [("GET", "/api/alerts"), ("PATCH", "/api/alerts/1"),
                                         ("GET", "/api/callbacks")])
def test_queue_api_needs_the_key(app, db, method, path):
    app.config["IVR_API_KEY"] = API_KEY
    alert = _alert(db)
    response = app.test_client().open(path, method=method, json={"status": "closed"})
    assert response.status_code == 401
    assert floods.alerts(db)[0].status == "new" and alert.id == 1


def test_api_lists_alerts_with_filters(api, db):
    closed, fresh = _alert(db, "+15005550009", minutes_ago=1), _alert(db)
    floods.move(db, closed.id, "closed", "", "op x")
    assert [a["id"] for a in api("GET", "/api/alerts").json["alerts"]] == [fresh.id]
    body = api("GET", "/api/alerts?include_closed=1").json
    assert [a["id"] for a in body["alerts"]] == [fresh.id, closed.id]
    assert body["alerts"][0]["line"] == LINE and body["alerts"][0]["callers"] == 6
    assert [a["id"] for a in api("GET", "/api/alerts?status=closed").json["alerts"]] == [closed.id]
    bad = api("GET", "/api/alerts?status=resolved")
    assert bad.status_code == 400 and "status must be one of" in bad.json["error"]


def test_api_moves_an_alert_and_audits_it_as_api(api, db):
    alert = _alert(db)
    response = api("PATCH", f"/api/alerts/{alert.id}", json={"status": "investigating", "note": "carrier asked"})
    assert response.status_code == 200 and response.json["status"] == "investigating"
    assert response.json["notes"][-1]["note"] == "carrier asked"
    [logged] = audit.recent(db, target=f"flood-alert {alert.id}")
    assert logged.actor == "api" and logged.after["status"] == "investigating"


@pytest.mark.parametrize("kwargs,status", [
    ({"json": {"status": "new"}}, 400),                    # investigating -> new is not a transition
    ({"json": {"status": "resolved"}}, 400),
    ({"json": {"note": "no status"}}, 400),
    ({"json": {"status": "closed", "note": 5}}, 400),
    ({"json": ["closed"]}, 400),
    ({"data": "{not json", "content_type": "application/json"}, 400),
])
def test_api_refuses_bad_moves(api, db, kwargs, status):
    alert = _alert(db)
    floods.move(db, alert.id, "investigating", "", "op x")
    response = api("PATCH", f"/api/alerts/{alert.id}", **kwargs)
    assert response.status_code == status and response.json["error"]
    assert floods.alerts(db)[0].status == "investigating"


@pytest.mark.parametrize("alert_id", ["999", "abc"])
def test_api_unknown_alert_is_404(api, db, alert_id):
    response = api("PATCH", f"/api/alerts/{alert_id}", json={"status": "closed"})
    assert response.status_code == 404 and response.json["error"]


def test_api_lists_the_callback_queue(api, db):
    entry = callbacks.queue(db, "CA-1", NUMBER, "dropped")
    done = callbacks.queue(db, "CA-2", NUMBER, "blank")
    callbacks.record_attempt(db, done.id, "wrong-number", "", "op x", 3)
    assert [c["id"] for c in api("GET", "/api/callbacks").json["callbacks"]] == [entry.id]
    rows = api("GET", "/api/callbacks?include_closed=1").json["callbacks"]
    assert [(c["call_sid"], c["status"]) for c in rows] == [("CA-1", "pending"), ("CA-2", "done")]


def test_store_refuses_an_outcome_outside_the_vocabulary(db):
    entry = callbacks.queue(db, "CA-1", NUMBER, "dropped")
    with pytest.raises(ValueError, match="outcome must be one of"):
        callbacks.record_attempt(db, entry.id, "arrested", "", "op x", 3)


def test_the_command_line_shares_the_vocabulary_and_is_audited_too(runner, db):
    entry = callbacks.queue(db, "CA-1", NUMBER, "dropped")
    refused = runner.invoke(args=["callbacks", "attempt", str(entry.id), "--outcome", "arrested"])
    assert refused.exit_code == 2 and callbacks.get(db, entry.id).attempts == 0
    result = runner.invoke(args=["callbacks", "attempt", str(entry.id), "--outcome", "busy", "--by", "op 17"])
    assert result.exit_code == 0 and "attempt 1 busy; now pending" in result.output
    [logged] = audit.recent(db, target=f"callback {entry.id}")
    assert logged.actor == "op 17" and logged.after["attempts"] == 1
