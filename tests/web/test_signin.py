"""Signing in: same-site redirects after login and from forms, development secrets, the login throttle,
password checks outside write transactions, and sessions revoked at logout and when an operator is disabled."""
from contextlib import contextmanager
from pathlib import Path

import pytest

from ivr.config import DEV_AUTH_TOKEN, DEV_SECRET_KEY, UnsafeConfig, load_config
from ivr.store import operators

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
