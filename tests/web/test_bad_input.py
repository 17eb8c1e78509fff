"""Input no page or API should answer with a 500: each gets a clear 400."""
import pytest

from ivr.store import calls, operators

from conftest import API_KEY
from helpers import PASSWORD, answer, token_from


def test_a_nul_byte_in_the_login_name_is_refused(app, db):
    operators.create(db, "asha", PASSWORD)
    client = app.test_client()
    token = token_from(client.get("/login").text)
    response = client.post("/login", data={"name": "asha\x00", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 400 and "NUL" in response.text


@pytest.mark.parametrize("path", ["/calls/CA%00x", "/spam?q=%00", "/?q=%00", "/audit?page=%00"])
def test_nul_bytes_in_paths_and_searches_are_refused(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 400 and "NUL" in response.text


@pytest.mark.parametrize("path", ["/api/calls/CA%00x", "/api/calls?q=%00"])
def test_nul_bytes_in_api_requests_are_refused(app, path):
    app.config["IVR_API_KEY"] = API_KEY
    response = app.test_client().get(path, headers={"X-API-Key": API_KEY})
    assert response.status_code == 400 and "NUL" in response.json["error"]


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=9999-12-31&to=9999-12-31"])
def test_the_last_day_there_is_as_a_filter_is_refused(operator_client, app, query):
    response = operator_client.get(f"/?{query}")
    assert response.status_code == 400 and "9999-12-31" in response.text
    app.config["IVR_API_KEY"] = API_KEY
    assert app.test_client().get(f"/api/calls?{query}", headers={"X-API-Key": API_KEY}).status_code == 400
    events = operator_client.get(f"/events?{query}", headers={"Accept": "text/event-stream"})
    assert events.status_code == 400


def test_a_newline_in_next_goes_to_the_calls_page(app, db):
    operators.create(db, "asha", PASSWORD)
    client = app.test_client()
    assert client.get("/login?next=/%0d%0aSet-Cookie:x=1").status_code == 200
    token = token_from(client.get("/login").text)
    response = client.post("/login", data={"name": "asha", "password": PASSWORD, "csrf_token": token,
                                           "next": "/calls\r\nSet-Cookie: x=1"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_spam_reason_as_long_as_the_form_allows_still_rejects_and_stores_the_call(operator_client, db, twilio_post):
    token = token_from(operator_client.get("/").text)
    operator_client.post("/spam", data={"number": "+15005550006", "reason": "r" * 600, "csrf_token": token})
    sid, root = answer(twilio_post, From="+15005550006")
    assert root.find("Reject") is not None
    stored = calls.get_call(db, sid)
    assert stored.decision == "reject" and stored.block_reason.startswith("spam-list: rrr")
