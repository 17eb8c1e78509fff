"""Blank-call holds worked from the control room and the API (audited), and spam-list entries that expire."""
from datetime import timedelta

from ivr.screening.numbers import screen
from ivr.store import actions, audit, holds
from ivr.store.models import utcnow

from helpers import csrf

NUMBER = "+919812345678"


def _hold(db, kind="block"):
    return holds.place(db, NUMBER, kind, f"10 blank calls on {utcnow():%Y-%m-%d}", utcnow(), 24)


def test_the_page_lists_holds_and_an_operator_lifts_them_with_an_audit_entry(operator_client, db):
    _hold(db), _hold(db, "watch")
    page = operator_client.get("/holds").text
    assert NUMBER in page and "block" in page and "watch" in page and 'href="/holds"' in page
    response = operator_client.post("/holds/lift", data={"number": "98123 45678", "csrf_token": csrf(operator_client)})
    assert response.status_code == 302 and holds.active_holds(db, utcnow()) == []
    entries = [entry for entry in audit.recent(db, target=NUMBER) if entry.action == "hold.lift"]
    assert [entry.actor for entry in entries] == ["op asha", "op asha"]
    assert {entry.before["kind"] for entry in entries} == {"block", "watch"}


def test_an_operator_extends_a_hold(operator_client, db):
    hold = _hold(db)
    response = operator_client.post("/holds/extend", data={"id": str(hold.id), "hours": "48",
                                                           "csrf_token": csrf(operator_client)})
    assert response.status_code == 302
    [extended] = holds.active_holds(db, utcnow() + timedelta(hours=60))
    assert extended.id == hold.id
    assert [entry.action for entry in audit.recent(db, target=NUMBER)] == ["hold.extend"]


def test_garbage_hold_forms_are_refused_with_a_message_and_change_nothing(operator_client, db):
    hold = _hold(db)
    for path, data in [("/holds/lift", {"number": "not a number"}), ("/holds/extend", {"id": "x", "hours": "5"}),
                       ("/holds/extend", {"id": str(hold.id), "hours": "-3"}),
                       ("/holds/extend", {"id": "999999", "hours": "5"}), ("/holds/lift", {"number": "+15005550006"})]:
        response = operator_client.post(path, data={**data, "csrf_token": csrf(operator_client)},
                                        follow_redirects=True)
        assert response.status_code == 200 and 'class="flash error"' in response.text, (path, data)
    assert [h.id for h in holds.active_holds(db, utcnow())] == [hold.id] and audit.recent(db, target=NUMBER) == []


def test_hold_forms_need_the_csrf_token(operator_client, db):
    _hold(db)
    assert operator_client.post("/holds/lift", data={"number": NUMBER}).status_code == 400
    assert len(holds.active_holds(db, utcnow())) == 1


def test_the_api_lists_lifts_and_extends_holds(api, db):
    hold = _hold(db)
    assert [h["number"] for h in api("GET", "/api/holds").json["holds"]] == [NUMBER]
    extended = api("PATCH", f"/api/holds/{hold.id}", json={"hours": 12})
    assert extended.status_code == 200 and extended.json["expires_at"] > hold.expires_at.isoformat()
    assert api("PATCH", f"/api/holds/{hold.id}", json={"hours": "lots"}).status_code == 400
    assert api("PATCH", "/api/holds/99999", json={"hours": 1}).status_code == 404
    assert api("POST", "/api/holds/lift", json={"number": NUMBER}).json == {"number": NUMBER, "lifted": 1}
    assert api("POST", "/api/holds/lift", json={"number": NUMBER}).status_code == 404
    assert [entry.actor for entry in audit.recent(db, target=NUMBER)] == ["api", "api"]


def test_a_spam_entry_with_an_expiry_stops_rejecting_when_it_expires(db, api):
    actions.add_spam(db, NUMBER, "prank caller, one day", "op 17", hours=24)
    assert screen(db, NUMBER).action == "reject"
    assert screen(db, NUMBER, now=utcnow() + timedelta(hours=25)).action == "answer"
    body = api("POST", "/api/spam", json={"number": "+15005550006", "reason": "campaign", "expires_hours": 2}).json
    assert body["expires_at"] is not None
    assert api("POST", "/api/spam", json={"number": "+15005550006", "reason": "x", "expires_hours": 0}).status_code == 400


def test_the_spam_form_lists_a_number_for_a_while(operator_client, db):
    operator_client.post("/spam", data={"number": NUMBER, "reason": "pranks", "hours": "168",
                                        "csrf_token": csrf(operator_client)})
    assert screen(db, NUMBER).action == "reject"
    assert screen(db, NUMBER, now=utcnow() + timedelta(days=8)).action == "answer"
