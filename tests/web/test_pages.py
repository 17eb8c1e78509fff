"""The control room's pages: sign-in, roles, CSRF, every route guarded, the calls list, a call's page, actions."""
import json
import re
import threading
import time
import xml.etree.ElementTree as ET

from datetime import timedelta

import pytest

from ivr.store import actions, audit, calls, operators, spam
from ivr.store.models import utcnow

from conftest import call_params, listed, make_app
from helpers import csrf, PASSWORD, sign_in, token_from

PUBLIC = {"static", "web.static", "web.health", "web.auth.login"}



def add_call(db, sid, number="+919812345678", live=False, **values):
    """A finished call (LIVE: still in progress, pinned on the board) with VALUES set on it."""
    calls.open_call(db, sid, number, "+15005550001", reasons=values.pop("reasons", []))
    if not live:
        values = {"status": "completed", "ended_at": utcnow(), **values}
    if values:
        with db.session() as session:
            from ivr.store.models import Call
            call = session.query(Call).filter_by(sid=sid).one()
            for key, value in values.items():
                setattr(call, key, value)


def test_first_run_names_the_command_and_there_is_no_default_login(client, db):
    page = client.get("/login")
    assert "flask --app ivr operator create NAME --role admin" in page.text
    for name, password in [("admin", "admin"), ("admin", "password"), ("operator", "operator")]:
        assert sign_in(client, name, password).status_code == 401


def test_operator_create_command_reads_the_password_from_stdin(runner, db):
    result = runner.invoke(args=["operator", "create", "meena", "--role", "admin", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    stored = operators.authenticate(db, "meena", PASSWORD)
    assert stored.role == "admin" and PASSWORD not in stored.password_hash
    short = runner.invoke(args=["operator", "create", "x", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    bad_role = runner.invoke(args=["operator", "create", "y", "--role", "root", "--password-stdin"], input=PASSWORD)
    assert bad_role.exit_code != 0 and operators.count(db) == 1


def test_operator_create_prompts_twice_when_not_from_stdin(runner, db):
    result = runner.invoke(args=["operator", "create", "kiran"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert operators.authenticate(db, "kiran", PASSWORD).role == "operator"


def test_sign_in_and_out(app, db):
    operators.create(db, "asha", PASSWORD)
    client = app.test_client()
    assert sign_in(client, "asha", "wrong password").status_code == 401
    assert client.get("/").status_code == 302
    response = sign_in(client, "asha")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "asha" in client.get("/").text
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 302
    assert client.get("/").status_code == 302


def test_repeated_failed_sign_ins_are_refused_for_a_while(app, db):
    operators.create(db, "asha", PASSWORD)
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "asha", "guess").status_code == 401
    refused = sign_in(client, "asha")                # even the right password, until the window passes
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    assert sign_in(app.test_client(), "ravi", "guess").status_code == 401      # other names are unaffected
    assert audit.count_since(db, "login.failed", "asha@127.0.0.1", utcnow() - timedelta(hours=1)) == 5


def test_session_cookie_is_secure_behind_https(database_url, stand_in):
    app = make_app(database_url, stand_in, PUBLIC_URL="https://ivr.example.org", SECRET_KEY="s" * 32,
                   SESSION_COOKIE_SECURE=True)
    operators.create(app.extensions["ivr.db"], "asha", PASSWORD)
    response = sign_in(app.test_client(), "asha")
    assert "Secure" in response.headers["Set-Cookie"]
    app.extensions["ivr.db"].engine.dispose()


def test_public_https_with_the_development_secret_is_refused(database_url, stand_in):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        make_app(database_url, stand_in, PUBLIC_URL="https://ivr.example.org", SECRET_KEY="dev-secret-key",
                 IVR_DEV_MODE=True)


def test_deactivated_operator_loses_the_session(operator_client, db):
    assert operator_client.get("/").status_code == 200
    operators.deactivate(db, "asha")
    assert operator_client.get("/").status_code == 302


def test_next_only_goes_to_this_site(app, db):
    operators.create(db, "asha", PASSWORD)
    client = app.test_client()
    token = token_from(client.get("/login").text)
    response = client.post("/login", data={"name": "asha", "password": PASSWORD, "csrf_token": token,
                                           "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_forms_reject_missing_or_forged_csrf_tokens(operator_client, db, token):
    data = {"number": "+15005550006", "reason": "robocaller"}
    if token is not None:
        data["csrf_token"] = token
    assert operator_client.post("/spam", data=data).status_code == 400
    assert listed(db, "+15005550006") is None


def test_sign_in_needs_a_csrf_token(app, db):
    operators.create(db, "asha", PASSWORD)
    assert app.test_client().post("/login", data={"name": "asha", "password": PASSWORD}).status_code == 400


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = rule.rule.replace("<sid>", "CA123").replace("<path:filename>", "x")
            yield pytest.param(rule.endpoint, method, path, id=f"{method} {rule.rule}")


def _all_routes():
    from conftest import ACCOUNT, SECRET, TOKEN
    from ivr import create_app
    app = create_app({"DATABASE_URL": "sqlite:///:memory:", "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
                      "SECRET_KEY": SECRET,
                      "ASR_ENGINE": "pocketsphinx"})
    routes = list(_routes(app))
    app.extensions["ivr.db"].engine.dispose()
    return routes


@pytest.mark.parametrize("endpoint,method,path", _all_routes())
def test_every_route_is_denied_without_login_or_key(client, endpoint, method, path):
    """Walks the URL map: a new route that forgets its guard fails here."""
    headers = {"X-API-Key": "wrong", "Authorization": "Bearer wrong"}
    if endpoint.startswith("stream."):
        headers.update({"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    response = client.open(path, method=method, headers=headers)
    if endpoint.startswith(("voice.", "stream.")):
        assert response.status_code == 403               # Twilio's signature is their credential
    elif endpoint.startswith("api.") or endpoint == "metrics":
        assert response.status_code == 401
    elif method == "GET":
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    else:
        assert response.status_code == 401


def test_the_public_routes_are_only_health_login_and_assets(app):
    assert {rule.endpoint for rule in app.url_map.iter_rules()} >= PUBLIC
    with app.test_client().get("/assets/app.css") as response:
        assert response.status_code == 200 and b"table.calls" in response.data


@pytest.mark.parametrize("path", ["/spam", "/audit"])
def test_operators_cannot_reach_admin_pages(operator_client, path):
    assert operator_client.get(path).status_code == 403


def test_operators_cannot_remove_spam_numbers(operator_client, db):
    actions.add_spam(db, "+15005550006", "robocaller", "test")
    response = operator_client.post("/spam/remove", data={"number": "+15005550006",
                                                          "csrf_token": csrf(operator_client)})
    assert response.status_code == 403 and listed(db, "+15005550006") is not None


def test_calls_page_lists_newest_first_with_the_columns(operator_client, db):
    add_call(db, "CAold", "+919800000001", transcript="my passport", label="inquiry", confidence=0.91,
             digit="2", decision="inquiry")
    add_call(db, "CAnew", "+919800000002", transcript="fire at the market", label="emergency", confidence=0.97,
             digit="1", decision="emergency", reasons=["caller-id: withheld"], flags={"caller-id": "caller-id: withheld"})
    html = operator_client.get("/").text
    assert html.index("CAnew") < html.index("CAold")
    row = html[html.index('id="call-CAnew"'):html.index('id="call-CAold"')]
    for text in ("+919800000002", "fire at the market", "emergency 97%", ">1<", "emergency", "caller-id: withheld",
                 ">caller-id<"):
        assert text in row


def test_transcripts_and_reasons_are_escaped(operator_client, db):
    add_call(db, "CAxss", transcript="<script>alert(1)</script>", reasons=["robocall: <img src=x onerror=alert(2)>"],
             flags={"robocall": "robocall: <img src=x onerror=alert(2)>"}, faults=["<b>boom</b>"])
    for path in ("/", "/calls/CAxss"):
        html = operator_client.get(path).text
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    response = operator_client.get("/")
    assert "script-src" not in response.headers["Content-Security-Policy"]       # default-src 'self' covers it
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_filters_search_and_pages(operator_client, db):
    for i in range(7):
        add_call(db, f"CA{i}", f"+91980000000{i}", label="spam" if i % 2 else "inquiry",
                 decision="reject" if i % 2 else "inquiry", reasons=["spam-list: robocaller"] if i % 2 else [],
                 flags={"spam-list": "spam-list: robocaller"} if i % 2 else {})
    assert _sids(operator_client.get("/?class=spam").text) == ["CA5", "CA3", "CA1"]
    assert _sids(operator_client.get("/?route=reject").text) == ["CA5", "CA3", "CA1"]
    assert _sids(operator_client.get("/?route=inquiry").text) == ["CA6", "CA4", "CA2", "CA0"]
    assert _sids(operator_client.get("/?flag=spam-list").text) == ["CA5", "CA3", "CA1"]
    assert _sids(operator_client.get("/?flag=robocall").text) == []    # "robocaller" is a reason's word, not a flag
    assert _sids(operator_client.get("/?q=%2B919800000004").text) == ["CA4"]
    assert _sids(operator_client.get("/?q=00003").text) == ["CA3"]
    first, second = operator_client.get("/?per_page=3").text, operator_client.get("/?per_page=3&page=3").text
    assert _sids(first) == ["CA6", "CA5", "CA4"] and 'rel="next"' in first
    assert _sids(second) == ["CA0"] and 'rel="next"' not in second
    assert _sids(operator_client.get("/?from=2000-01-01&to=2000-01-02").text) == []


def test_a_number_listed_as_a_robocaller_gets_the_spam_list_flag_only(operator_client, twilio_post, db):
    """Flags are set by the code that raises them: a reason's words ("robocaller") never make a flag."""
    actions.add_spam(db, "+15005550006", "robocaller", "op 17")
    response = twilio_post("/voice", call_params("CArobo", From="+15005550006"))
    assert ET.fromstring(response.text)[0].tag == "Reject"
    assert list(calls.get_call(db, "CArobo").flags) == ["spam-list"]
    assert _sids(operator_client.get("/?flag=robocall").text) == []
    assert _sids(operator_client.get("/?flag=spam-list").text) == ["CArobo"]
    row = operator_client.get("/").text
    assert 'class="flag flag-spam-list"' in row and "flag-robocall" not in row


def _sids(html):
    return re.findall(r'id="call-(CA\w+)"', html)


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=99999999999999999999", "per_page=100000",
                                   "page=abc", "class=robbery", "route=moon", "flag=x", "from=2026-13-45",
                                   "from=2026-02-02&to=2026-01-01", "q=<script>", "q=" + "1" * 40])
def test_absurd_filters_are_refused_with_a_message(operator_client, query):
    response = operator_client.get(f"/?{query}")
    assert response.status_code == 400 and 'class="flash error"' in response.text
    assert "<script>" not in response.text.split("<main")[1]


def test_call_page_shows_transcript_reasons_timeline_and_guidance(operator_client, db):
    add_call(db, "CAd", transcript="a man with a knife at the bus stand my name is meena", label="emergency",
             confidence=0.93, digit="1", decision="emergency",
             reasons=["keypad: 1", "classifier: emergency 0.93"])
    calls.close_call(db, "CAd", "completed", 40)
    html = operator_client.get("/calls/CAd").text
    for text in ("a man with a knife at the bus stand", '<span class="e-text">bus stand</span>',
                 '<span class="e-text">Meena</span>', "keypad: 1",
                 "classifier: emergency 0.93", "ringing: call arrived", "ended: completed",
                 "Confirm the exact location"):
        assert text in html
    assert operator_client.get("/calls/CAnope").status_code == 404


def test_call_page_shows_that_recognition_was_shed_and_why(operator_client, db):
    why = "overload: all 6 recognition slots busy when the call was answered; keypad menu only"
    add_call(db, "CAs", digit="1", decision="emergency", flags={"speech-shed": why},
             reasons=["keypad: 1", "classifier: no speech", "speech: not recognised (overload)"])
    html = operator_client.get("/calls/CAs").text
    assert "<b>speech-shed</b> " + why in html and "speech: not recognised (overload)" in html


@pytest.mark.parametrize("typed,stored", [("+1 (500) 555-0006", "+15005550006"), ("98123 45678", "+919812345678"),
                                          ("0091 98123 45678", "+919812345678")])
def test_spam_form_normalises_numbers_and_the_next_call_is_rejected(operator_client, db, twilio_post, typed, stored):
    response = operator_client.post("/spam", data={"number": typed, "reason": "prank caller",
                                                   "csrf_token": csrf(operator_client)}, follow_redirects=True)
    assert f"{stored} is on the spam list" in response.text
    entry = listed(db, stored)
    assert (entry.reason, entry.added_by, entry.source) == ("prank caller", "op asha", "control-room")
    [logged] = audit.recent(db)
    assert (logged.actor, logged.action, logged.target, logged.before) == ("op asha", "spam.add", stored, None)
    assert logged.after["reason"] == "prank caller"
    answer = twilio_post("/voice", call_params(From=stored))
    assert [child.tag for child in ET.fromstring(answer.data)] == ["Reject"]


@pytest.mark.parametrize("typed", ["abc", "", "12", "+1 500 555 0006 0006 0006 0006"])
def test_spam_form_refuses_what_is_not_a_number(operator_client, db, typed):
    response = operator_client.post("/spam", data={"number": typed, "reason": "x", "csrf_token": csrf(operator_client)},
                                    follow_redirects=True)
    assert "is not a phone number" in response.text and spam.all_entries(db) == []


def test_spam_form_needs_a_reason(operator_client, db):
    response = operator_client.post("/spam", data={"number": "+15005550006", "reason": " ",
                                                   "csrf_token": csrf(operator_client)}, follow_redirects=True)
    assert "give a reason" in response.text and spam.all_entries(db) == []


def test_admin_searches_and_removes_spam_numbers_with_an_audit_trail(admin_client, db):
    actions.add_spam(db, "+15005550006", "robocaller", "op 17")
    actions.add_spam(db, "+919812345678", "prank", "op 18")
    assert "+15005550006" in admin_client.get("/spam?q=robo").text
    assert "+919812345678" not in admin_client.get("/spam?q=robo").text
    response = admin_client.post("/spam/remove", data={"number": "+1 500 555 0006", "csrf_token": csrf(admin_client)},
                                 follow_redirects=True)
    assert "removed from the spam list" in response.text and listed(db, "+15005550006") is None
    logged = audit.recent(db)[0]
    assert (logged.actor, logged.action, logged.before["reason"], logged.after) == \
        ("op ravi", "spam.remove", "robocaller", None)
    assert "spam.remove" in admin_client.get("/audit").text
    assert admin_client.get("/spam?page=0").status_code == 400


def test_correcting_a_class_is_stored_and_audited(operator_client, db):
    add_call(db, "CAc", transcript="where is my passport", label="complaint", confidence=0.7)
    response = operator_client.post("/calls/CAc/class", data={"class": "inquiry", "csrf_token": csrf(operator_client)})
    assert response.status_code == 302
    stored = calls.get_call(db, "CAc")
    assert (stored.label, stored.operator_label, stored.operator_label_by) == ("complaint", "inquiry", "op asha")
    [logged] = audit.recent(db, target="CAc")
    assert logged.before == {"label": "complaint", "operator_label": None}
    assert logged.after == {"label": "complaint", "operator_label": "inquiry"}
    bad = operator_client.post("/calls/CAc/class", data={"class": "robbery", "csrf_token": csrf(operator_client)})
    assert bad.status_code == 400


def test_stats_page_draws_svg_charts(operator_client, db):
    add_call(db, "CAs1", label="spam", decision="reject")
    add_call(db, "CAs2", label="emergency", decision="emergency")
    add_call(db, "CAs3", decision="blank")
    html = operator_client.get("/stats").text
    assert html.count("<svg") >= 2 and "emergency: 1" in html and "spam: 1" in html
    assert "3 calls: 1 blank (33.3 %), 1 spam or rejected (33.3 %)" in html


def _read_events(response):
    """Every `call` event until the stream ends (WEB_EVENTS_MAX_SECONDS bounds it)."""
    body = b"".join(response.response).decode()
    response.close()
    return [json.loads(block.split("data: ", 1)[1]) for block in body.split("\n\n") if block.startswith("event: call")]


def test_live_events_bring_new_calls_partials_and_decisions(app, operator_client, db):
    app.config.update(WEB_EVENTS_MAX_SECONDS=3, WEB_EVENTS_POLL_SECONDS=0.1)
    add_call(db, "CAa")
    response = operator_client.get("/events", headers={"Accept": "text/event-stream"}, buffered=False)
    assert response.mimetype == "text/event-stream"

    def change():
        calls.open_call(db, "CAb", "+919800000009", "+1")
        calls.set_partial(db, "CAa", "there is a <b>fire</b>", 1.0)
        calls.claim_decision(db, "CAa", "emergency", "+15005550101", ["keypad: 1"], digit="1")

    timer = threading.Timer(0.5, change)
    timer.start()
    seen = _read_events(response)
    timer.join()
    final = {event["sid"]: event for event in seen}
    assert set(final) == {"CAa", "CAb"}
    assert final["CAa"]["partial_transcript"] == "there is a <b>fire</b>"
    assert (final["CAa"]["route"], final["CAa"]["digit"]) == ("emergency", "1")
    assert any(e["sid"] == "CAa" and e["partial_transcript"] == "" for e in seen)     # the state before the change


def test_filtered_live_events_say_which_calls_match_as_they_change(app, operator_client, db):
    app.config.update(WEB_EVENTS_MAX_SECONDS=3, WEB_EVENTS_POLL_SECONDS=0.1)
    add_call(db, "CAe1")
    page = operator_client.get("/?route=emergency").text
    assert 'data-events="/events?route=emergency"' in page          # a filtered first page is live too
    assert 'data-events' not in operator_client.get("/?route=emergency&page=2").text
    response = operator_client.get("/events?route=emergency", headers={"Accept": "text/event-stream"},
                                   buffered=False)

    def change():
        calls.open_call(db, "CAe2", "+919800000009", "+1")                                    # ringing: no route
        calls.claim_decision(db, "CAe1", "emergency", "+15005550101", ["keypad: 1"], digit="1")

    timer = threading.Timer(0.5, change)
    timer.start()
    seen = _read_events(response)
    timer.join()
    final = {event["sid"]: event["matches"] for event in seen}
    assert final == {"CAe1": True, "CAe2": False}
    assert any(e["sid"] == "CAe1" and e["matches"] is False for e in seen)   # before it was routed there


def test_live_events_wake_on_postgresql_notifications_and_poll_on_sqlite(app, operator_client, db, database_url):
    """PostgreSQL: a trigger NOTIFYs, and the stream hears a change at once although its fallback poll (30 s)
    is far longer than the stream lives. SQLite has no notifications: the stream polls at the set interval."""
    postgres = database_url.startswith("postgresql")
    app.config.update(WEB_EVENTS_MAX_SECONDS=3, WEB_EVENTS_POLL_SECONDS=30 if postgres else 0.1)
    changes = app.extensions["ivr.changes"]
    if postgres:
        import web.calls
        web.calls.NOTIFIED_POLL_SECONDS, saved = 30, web.calls.NOTIFIED_POLL_SECONDS
    try:
        response = operator_client.get("/events", headers={"Accept": "text/event-stream"}, buffered=False)
        timer = threading.Timer(1.0, calls.open_call, args=(db, "CAn1", "+919800000009", "+1"))
        timer.start()
        started = time.monotonic()
        seen = _read_events(response)
        timer.join()
    finally:
        if postgres:
            web.calls.NOTIFIED_POLL_SECONDS = saved
    assert [event["sid"] for event in seen] == ["CAn1"]
    assert changes.listening is postgres and time.monotonic() - started < 5


def test_live_events_refuse_absurd_filters(operator_client):
    response = operator_client.get("/events?page=0", headers={"Accept": "text/event-stream"})
    assert response.status_code == 400 and "page" in response.text


def test_a_disabled_operator_stops_receiving_events(app, operator_client, db):
    app.config.update(WEB_EVENTS_MAX_SECONDS=30, WEB_EVENTS_POLL_SECONDS=0.1)
    response = operator_client.get("/events", headers={"Accept": "text/event-stream"}, buffered=False)
    timer = threading.Timer(0.3, operators.deactivate, args=(db, "asha"))
    timer.start()
    started = time.monotonic()
    _read_events(response)
    timer.join()
    assert time.monotonic() - started < 5           # not the 30 s the stream would otherwise last


def test_live_events_end_when_the_app_stops_listening_for_changes(app, operator_client):
    """Closing ivr.changes (the app stopping) ends a waiting stream at once, not at its next heartbeat, so the
    server's threads can finish."""
    app.config.update(WEB_EVENTS_MAX_SECONDS=30, WEB_EVENTS_POLL_SECONDS=30)
    response = operator_client.get("/events", headers={"Accept": "text/event-stream"}, buffered=False)
    timer = threading.Timer(0.3, app.extensions["ivr.changes"].close)
    timer.start()
    started = time.monotonic()
    assert _read_events(response) == []
    timer.join()
    assert time.monotonic() - started < 2           # not the 30 s the stream would otherwise last


def test_events_need_a_session(client):
    assert client.get("/events", headers={"Accept": "text/event-stream"}).status_code == 401


def test_a_burst_of_changes_larger_than_one_batch_is_read_whole(db):
    from ivr.store.calllist import latest_change
    from web.calls import _changed_calls
    add_call(db, "CAfirst")
    since = latest_change(db)
    burst = [f"CAburst{i:02d}" for i in range(7)]
    for sid in burst:
        calls.open_call(db, sid, "+919800000009", "+1")
    read = [call.sid for call in _changed_calls(db, since, batch=3)]
    assert list(dict.fromkeys(read)) == ["CAfirst"] + burst         # the stream drops the re-read boundary rows


def test_flags_include_screening_and_audio_findings():
    from ivr.store.calllist import flags
    from ivr.store.models import Call

    robocall = "robocall: same recording as call CA1 from +919812345601 (40 landmarks agree)"
    call = Call(reasons=["caller-id: withheld", "keypad: 2", "spam-list: robocaller"], faults=["boom"],
                decision="inquiry", flags={"caller-id": "caller-id: withheld", "robocall": robocall},
                audio_reasons=[robocall])
    assert flags(call) == [("caller-id", "caller-id: withheld"), ("robocall", robocall), ("fault", "boom")]


def test_a_session_may_hold_only_a_few_event_streams(app, operator_client, admin_client):
    # streams are closed last-opened first: in one test thread their request contexts stack
    app.config.update(WEB_EVENTS_MAX_SECONDS=30, WEB_EVENTS_POLL_SECONDS=0.1, WEB_EVENTS_PER_SESSION=3)
    accept = {"Accept": "text/event-stream"}
    streams = [operator_client.get("/events", headers=accept, buffered=False) for _ in range(3)]
    assert [stream.status_code for stream in streams] == [200, 200, 200]
    refused = operator_client.get("/events", headers=accept)
    assert refused.status_code == 429 and "Too many live pages" in refused.text
    other = admin_client.get("/events", headers=accept, buffered=False)          # another session has its own
    assert other.status_code == 200
    other.close()
    streams.pop().close()                                                       # a closed stream frees its slot
    again = operator_client.get("/events", headers=accept, buffered=False)
    assert again.status_code == 200
    for response in (again, *reversed(streams)):
        response.close()
    assert operator_client.get("/events?page=0", headers=accept).status_code == 400   # a refused filter takes none


def test_the_number_shown_is_the_calibrated_probability_worded_with_the_label(operator_client, db, app, api):
    classifier = app.extensions["ivr.classifier"]
    reading = classifier.classify("hello hello")
    raw = classifier._pipeline.base.predict_proba(["hello hello"])[0]
    raw_shown = round(100 * float(raw[list(classifier._pipeline.classes_).index(reading.label)]))
    add_call(db, "CAhello", transcript="hello hello", label=reading.label, confidence=reading.confidence,
             probabilities=reading.probabilities)
    shown = f"{reading.wording} {round(reading.confidence * 100)}%"
    assert shown != f"{reading.label} {raw_shown}%"          # the raw Naive Bayes number would read otherwise
    row = operator_client.get("/").text.split('id="call-CAhello"')[1].split("</tr>")[0]
    assert f'<span class="c-class">{shown}</span>' in row
    assert f"<dd>{shown}</dd>" in operator_client.get("/calls/CAhello").text
    assert api("GET", "/api/calls/CAhello").json["reading"] == shown
    add_call(db, "CAlow", transcript="uh", label="emergency", confidence=0.12)
    assert '<span class="c-class">possible emergency 12%</span>' in operator_client.get("/").text
