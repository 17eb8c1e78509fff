"""Trusted proxies: X-Forwarded-* count only for TRUSTED_PROXY_HOPS proxies, so the login throttle sees the real
client behind bin/serve's nginx and a client cannot name its own address or scheme when no proxy is trusted."""
import pytest

from ivr import create_app
from ivr.config import ConfigError, load_config
from ivr.store import operators

from conftest import call_params, sign
from helpers import PASSWORD, token_from


@pytest.fixture
def proxied(app):
    """The same app as gunicorn runs it behind bin/serve's nginx (one trusted hop), on the same database."""
    proxied = create_app({**app.config, "TRUSTED_PROXY_HOPS": 1})
    yield proxied
    proxied.extensions["ivr.changes"].close()
    proxied.extensions["ivr.db"].dispose()


def _login(app, peer, forwarded_for=None, name="asha", password="wrong"):
    """One sign-in from the socket address PEER, with X-Forwarded-For as a proxy (or a client) would send it."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    token = token_from(client.get("/login", headers=headers).text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       headers=headers).status_code


def test_a_spoofed_forwarded_for_is_ignored_when_no_proxy_is_trusted(app, db):
    operators.create(db, "asha", PASSWORD)
    codes = [_login(app, "10.0.0.1", f"198.51.100.{number}") for number in range(7)]
    assert codes == [401] * 5 + [429] * 2          # every guess counted against 10.0.0.1, whatever it claimed
    assert _login(app, "10.0.0.2", "10.0.0.1", password=PASSWORD) == 302


def test_the_last_forwarded_address_is_the_client_behind_one_trusted_proxy(proxied):
    db = proxied.extensions["ivr.db"]
    operators.create(db, "asha", PASSWORD)
    # nginx appends the address it saw: whatever a client put before it is not believed
    codes = [_login(proxied, "127.0.0.1", f"10.9.9.{number}, 203.0.113.5") for number in range(6)]
    assert codes == [401] * 5 + [429]
    assert _login(proxied, "127.0.0.1", "203.0.113.6", password=PASSWORD) == 302   # same proxy, another client
    assert _login(proxied, "127.0.0.1", "203.0.113.5", password=PASSWORD) == 429


def test_twilio_signatures_validate_on_the_forwarded_scheme_and_host(app, proxied):
    """Behind a TLS-terminating proxy Twilio signs https://public-host/voice; the app sees http://inner-host."""
    params = call_params()
    headers = {"X-Twilio-Signature": sign("https://ivr.example.org/voice", params),
               "X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.org", "X-Forwarded-For": "54.1.2.3"}
    assert proxied.test_client().post("/voice", data=params, headers=headers).status_code == 200
    assert app.test_client().post("/voice", data=params, headers=headers).status_code == 403


@pytest.mark.parametrize("value", ["-1", "one"])
def test_a_bad_hop_count_names_itself(value):
    with pytest.raises(ConfigError, match="^TRUSTED_PROXY_HOPS must be a whole number"):
        load_config({"TRUSTED_PROXY_HOPS": value})
