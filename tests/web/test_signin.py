"""Signing in: same-site redirects after login and from forms, development secrets, the login throttle,
password checks outside write transactions, and sessions revoked at logout and when an operator is disabled."""
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ivr.config import DEV_AUTH_TOKEN, DEV_SECRET_KEY, UnsafeConfig, load_config
from ivr.store import audit, operators
from ivr.store.models import LoginAttempt, utcnow

from conftest import make_app
from helpers import PASSWORD, csrf, sign_in, token_from

ROOT = Path(__file__).resolve().parents[2]
OFF_SITE = ["//evil.example/", "/%09/evil.example/", "/\t/evil.example/", "/\\evil.example/", "/\\\\evil.example",
            "\\\\evil.example", "/%5Cevil.example", "/%2F/evil.example", "https://evil.example/", "javascript:alert(1)",
            "/\nLocation: https://evil.example/", "/ok\r\nSet-Cookie: x=1", "/%00", "evil.example", "/", ""]


def _login(client, name="asha", password=PASSWORD, **extra):
    token = token_from(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, **extra})


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_after_login_never_leaves_the_site(app, db, target):
    operators.create(db, "asha", PASSWORD)
    response = _login(app.test_client(), next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/calls/CA123", "/?route=emergency&page=2", "/stats"])
def test_next_after_login_keeps_a_path_on_this_site(app, db, target):
    operators.create(db, "asha", PASSWORD)
    assert _login(app.test_client(), next=target).headers["Location"] == target


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_spam_forms_back_never_leaves_the_site(operator_client, target):
    response = operator_client.post("/spam", data={"number": "+15005550006", "reason": "robocaller", "back": target,
                                                   "csrf_token": csrf(operator_client)})
    assert response.status_code in (302, 400) and response.headers.get("Location", "/") == "/"


def test_the_spam_forms_back_keeps_a_path_on_this_site(operator_client):
    response = operator_client.post("/spam", data={"number": "+15005550006", "reason": "robocaller",
                                                   "back": "/calls/CA1", "csrf_token": csrf(operator_client)})
    assert response.headers["Location"] == "/calls/CA1"


@pytest.mark.parametrize("key, default", [("SECRET_KEY", DEV_SECRET_KEY), ("TWILIO_AUTH_TOKEN", DEV_AUTH_TOKEN)])
def test_development_secrets_are_refused_outside_development_mode(database_url, stand_in, key, default):
    with pytest.raises(UnsafeConfig, match=f"set {key}") as refused:
        make_app(database_url, stand_in, **{key: default})
    assert "\n" not in str(refused.value)
    with pytest.raises(UnsafeConfig, match=key):       # never behind https, even in development mode
        make_app(database_url, stand_in, IVR_DEV_MODE=True, PUBLIC_URL="https://ivr.example.org", **{key: default})
    app = make_app(database_url, stand_in, IVR_DEV_MODE=True, **{key: default})
    app.extensions["ivr.changes"].close()
    app.extensions["ivr.db"].dispose()


def test_development_mode_is_off_unless_asked_for_and_only_bin_start_asks():
    assert load_config({})["IVR_DEV_MODE"] is False and load_config({"IVR_DEV_MODE": "1"})["IVR_DEV_MODE"] is True
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    assert "IVR_DEV_MODE" not in web
    assert 'export IVR_DEV_MODE="${IVR_DEV_MODE:-1}"' in (ROOT / "bin" / "start").read_text()


def test_passwords_are_checked_with_no_transaction_open(db, monkeypatch):
    operators.create(db, "asha", PASSWORD)
    open_sessions, seen = [], []

    def tracked(factory):
        @contextmanager
        def session():
            open_sessions.append(factory)
            try:
                with factory() as inner:
                    yield inner
            finally:
                open_sessions.remove(factory)
        return session

    monkeypatch.setattr(db, "session", tracked(db.session))
    monkeypatch.setattr(db, "reader", tracked(db.reader))
    check = operators.check_password_hash
    monkeypatch.setattr(operators, "check_password_hash", lambda *args: seen.append(len(open_sessions)) or check(*args))
    assert operators.authenticate(db, "asha", PASSWORD).name == "asha"
    assert operators.authenticate(db, "asha", "wrong") is None and operators.authenticate(db, "nobody", "x") is None
    assert seen == [0, 0, 0]
    assert operators.get(db, operators.authenticate(db, "asha", PASSWORD).id).last_login_at is not None


def _from(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_parallel_wrong_passwords_get_at_most_the_limit_checked(app, db, monkeypatch):
    operators.create(db, "asha", PASSWORD)
    checked, check = [], operators.check_password_hash

    def slow_check(*args):
        checked.append(args)
        time.sleep(0.2)             # every guess is in flight before the first one fails
        return check(*args)

    monkeypatch.setattr(operators, "check_password_hash", slow_check)
    clients = [_from(app, "10.0.0.1") for _ in range(30)]
    tokens = [token_from(client.get("/login").text) for client in clients]
    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda pair: pair[0].post("/login", data={
            "name": "asha", "password": "guess", "csrf_token": pair[1]}).status_code, zip(clients, tokens)))
    assert len(checked) <= app.config["WEB_LOGIN_FAILURES"] == 5
    assert sorted(set(codes)) == [401, 429] and codes.count(401) == len(checked)
    assert audit.count_since(db, "login.failed", "asha@10.0.0.1", utcnow() - timedelta(hours=1)) == len(checked)
    assert sign_in(_from(app, "10.0.0.2"), "asha").status_code == 302     # not locked out from elsewhere


def test_one_address_is_refused_after_many_failures_on_any_names(app, db):
    operators.create(db, "asha", PASSWORD)
    app.config.update(WEB_LOGIN_ADDRESS_FAILURES=8)
    for number in range(8):
        assert sign_in(_from(app, "10.0.0.1"), f"guess{number}", "guess").status_code == 401
    assert sign_in(_from(app, "10.0.0.1"), "asha").status_code == 429
    assert sign_in(_from(app, "10.0.0.2"), "asha").status_code == 302


def test_good_sign_ins_do_not_use_up_the_address(app, db):
    operators.create(db, "asha", PASSWORD)
    app.config.update(WEB_LOGIN_ADDRESS_FAILURES=3)
    for _ in range(6):
        assert sign_in(_from(app, "10.0.0.1"), "asha").status_code == 302


def test_the_throttle_window_passes(app, db):
    operators.create(db, "asha", PASSWORD)
    app.config.update(WEB_LOGIN_FAILURES=2, WEB_LOGIN_WINDOW_MINUTES=1)
    client = _from(app, "10.0.0.1")
    for _ in range(2):
        assert sign_in(client, "asha", "guess").status_code == 401
    assert sign_in(client, "asha").status_code == 429
    with db.session() as session:
        session.execute(update(LoginAttempt).values(window_start=utcnow() - timedelta(minutes=2)))
    assert sign_in(client, "asha").status_code == 302


def _cookie(client):
    return client.get_cookie("session").value


def test_logging_out_revokes_the_cookie(app, db):
    operators.create(db, "asha", PASSWORD)
    client = app.test_client()
    assert sign_in(client, "asha").status_code == 302
    stolen = _cookie(client)
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/").status_code == 302 and replay.get("/").headers["Location"].startswith("/login")


def test_disabling_revokes_the_cookie_for_good(app, db):
    operators.create(db, "asha", PASSWORD)
    client = app.test_client()
    assert sign_in(client, "asha").status_code == 302
    stolen = _cookie(client)
    operators.deactivate(db, "asha")
    operators.create(db, "asha", PASSWORD)          # re-enabled with a new password: the old cookie stays dead
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/").status_code == 302
    assert sign_in(app.test_client(), "asha").status_code == 302


def test_logging_out_ends_the_operators_event_streams(app, operator_client):
    app.config.update(WEB_EVENTS_MAX_SECONDS=30, WEB_EVENTS_POLL_SECONDS=0.1)
    other = app.test_client()
    other.set_cookie("session", _cookie(operator_client))
    response = other.get("/events", headers={"Accept": "text/event-stream"}, buffered=False)
    started = time.monotonic()
    assert operator_client.post("/logout", data={"csrf_token": csrf(operator_client)}).status_code == 302
    b"".join(response.response)
    response.close()
    assert time.monotonic() - started < 8           # not the 30 s the stream would otherwise last
