"""bin/serve (the Procfile's web: process): nginx in front of two gunicorn pools. Stalled clients wait in nginx,
not in gunicorn's threads; one address holds at most SERVE_CONNECTIONS_PER_ADDRESS connections; the login throttle
sees the real client; SIGTERM, or any process dying, stops them all. The pools themselves: test_serve_pools.py."""
import http.client
import os
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from alembic import command

from ivr.store import operators

from conftest import ACCOUNT, SECRET, TOKEN, call_params, make_app, sign
from helpers import PASSWORD, alembic_config, token_from

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PER_ADDRESS, CLIENT_TIMEOUT = 30, 8     # the timeout outlasts the webhooks below on a loaded machine
ATTACKER, OTHER = "127.0.0.2", "127.0.0.3"      # all of 127/8 is loopback: distinct client addresses, no set-up
MEDIA_NICE = 7          # not the default, so that the test sees the setting at work
API_KEY = "serve-api-key-" + "k" * 30


class Served:
    """bin/serve on a free port with a web pool of 1 process of 2 threads (two stalled requests would starve it)
    and a media pool of 2 processes of 2 threads at nice +MEDIA_NICE."""

    def __init__(self, folder, stand_in, app=None, **extra):
        self.port = _free_port()
        self.database = database = f"sqlite:///{folder / 'serve.sqlite3'}"
        command.upgrade(alembic_config(database), "head")     # bin/serve refuses an unmigrated database
        env = {**os.environ, "PORT": str(self.port), "DATABASE_URL": database, "TWILIO_AUTH_TOKEN": TOKEN,
               "TWILIO_ACCOUNT_SID": ACCOUNT, "SECRET_KEY": SECRET,
               "TWILIO_API_BASE": f"http://127.0.0.1:{stand_in.port}",
               "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2", "SERVE_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS),
               "SERVE_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT), "LOG_LEVEL": "WARNING", "MEDIA_CONCURRENCY": "2",
               "MEDIA_THREADS": "2", "SERVE_MEDIA_NICE": str(MEDIA_NICE), "IVR_API_KEY": API_KEY,
               "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
               "IVR_RECOGNITION_SLOTS_DIR": str(folder / "slots"), **extra}
        self.metrics = folder / "metrics"
        env.pop("IVR_DEV_MODE", None)
        env.pop("TRUSTED_PROXY_HOPS", None)       # bin/serve's own default: its nginx, one hop
        self.log_path = folder / f"serve-{self.port}.log"
        with open(self.log_path, "wb") as log:    # a file, not a pipe: nobody drains a pipe while the test runs
            self.process = subprocess.Popen([str(ROOT / "bin" / "serve"), "--host", "127.0.0.1",
                                             *(["--app", app] if app else [])], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                if request(self.port, "GET", "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"bin/serve did not come up in 120 s:\n{self.log_path.read_text()}")

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        return code, self._leftover()

    def _leftover(self):
        """True when a process of the group outlives bin/serve by 10 s (a gunicorn worker whose master was killed
        notices within a second); it is killed, so that the failing test leaks nothing."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return False
            time.sleep(0.2)
        os.killpg(self.process.pid, signal.SIGKILL)
        return True


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port, method, path, body=None, headers=None, source="127.0.0.1", timeout=10):
    """(status, headers, body) of one request from the client address SOURCE."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def signed_post(port, path, params):
    headers = {"X-Twilio-Signature": sign(f"http://127.0.0.1:{port}{path}", params),
               "Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = request(port, "POST", path, urlencode(params), headers)
    return status, ET.fromstring(body)


def stall(port, source, partial_body=True):
    """A connection that sends the headers and part of a /voice body (or part of the headers), then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    head = f"POST /voice HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    sock.sendall((head + "Content-Length: 4000\r\n\r\nCallSid=CA" if partial_body else head).encode())
    return sock


def ending(sock, within):
    """What the server sends before it closes SOCK (b"" when it closes without a word); fails if it holds on."""
    sock.settimeout(within)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    sock.close()
    return received


@pytest.fixture(scope="module")
def served(tmp_path_factory, stand_in):
    server = Served(tmp_path_factory.mktemp("serve"), stand_in)
    app = make_app(server.database, stand_in)
    operators.create(app.extensions["ivr.db"], "meena", PASSWORD)
    app.extensions["ivr.changes"].close()
    app.extensions["ivr.db"].dispose()
    yield server
    server.close()


def test_stalled_clients_cannot_starve_signed_webhooks(served):
    attacker = [stall(served.port, ATTACKER) for _ in range(PER_ADDRESS + 10)]
    slow_headers = [stall(served.port, OTHER, partial_body=False) for _ in range(10)]
    status, root = signed_post(served.port, "/voice", call_params())
    assert status == 200 and [child.tag for child in root] == ["Start", "Gather", "Gather", "Redirect"]
    assert root.find("Start/Stream").get("url") == f"ws://127.0.0.1:{served.port}/media"
    status, root = signed_post(served.port, "/voice/fallback", call_params())
    assert status == 200 and root.find("Dial/Number").text == "+15005550100"
    # the attacker's address is at its cap: its next connection is refused at once, other addresses still pass
    assert request(served.port, "GET", "/health", source=ATTACKER)[0] == 429
    endings = [ending(sock, CLIENT_TIMEOUT + 8) for sock in attacker]
    held = [reply for reply in endings if reply == b"" or reply.startswith(b"HTTP/1.1 408")]   # until the timeout
    refused = [reply for reply in endings if reply.startswith(b"HTTP/1.1 429")]
    assert len(held) == PER_ADDRESS and len(refused) == 10
    assert [ending(sock, CLIENT_TIMEOUT + 8) for sock in slow_headers] == [b""] * 10


def test_a_burst_from_one_address_under_its_cap_all_passes(served):
    """Twilio's webhooks and streams come from a few addresses: a burst below the cap is served whole."""
    def call(_):
        params = call_params()
        headers = {"X-Twilio-Signature": sign(f"http://127.0.0.1:{served.port}/voice", params),
                   "Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = request(served.port, "POST", "/voice", urlencode(params), headers, source="127.0.0.7",
                                  timeout=30)
        return status, ET.fromstring(body).find("Start/Stream") is not None

    with ThreadPoolExecutor(PER_ADDRESS - 5) as pool:
        assert list(pool.map(call, range(PER_ADDRESS - 5))) == [(200, True)] * (PER_ADDRESS - 5)


def _sign_in(port, source, forwarded_for=None, name="asha", password="wrong"):
    """A sign-in from SOURCE (claiming FORWARDED_FOR): (status, session cookie)."""
    claim = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    status, headers, page = request(port, "GET", "/login", headers=claim, source=source)
    cookie = headers["Set-Cookie"].split(";")[0]
    form = urlencode({"name": name, "password": password, "csrf_token": token_from(page.decode())})
    status, headers, _ = request(port, "POST", "/login", form, {
        "Cookie": cookie, **claim, "Content-Type": "application/x-www-form-urlencoded"}, source=source)
    return status, (headers["Set-Cookie"] or cookie).split(";")[0]


def test_the_login_throttle_counts_the_real_client_behind_the_front(served):
    assert [_sign_in(served.port, "127.0.0.4")[0] for _ in range(6)] == [401] * 5 + [429]
    assert _sign_in(served.port, "127.0.0.5")[0] == 401                    # another client is not locked out
    assert _sign_in(served.port, "127.0.0.5", forwarded_for="127.0.0.6")[0] == 401
    assert _sign_in(served.port, "127.0.0.6", forwarded_for="127.0.0.4")[0] == 401   # nor can it borrow a name


def test_the_live_events_stream_through_the_front_unbuffered(served):
    status, cookie = _sign_in(served.port, "127.0.0.8", name="meena", password=PASSWORD)
    assert status == 302
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        conn.request("GET", "/events", headers={"Cookie": cookie})
        response = conn.getresponse()
        # the stream's first line, well before nginx's buffer (several kB) would fill: nothing holds it back
        assert (response.status, response.read(len(b"retry: 1000\n\n"))) == (200, b"retry: 1000\n\n")
    finally:
        conn.close()


# The supervisor's tests serve werkzeug's tiny test app: it starts in a moment, and the app plays no part in them.
TINY_APP = "werkzeug.testapp:test_app"


def test_sigterm_stops_both_processes_cleanly(tmp_path, stand_in):
    server = Served(tmp_path, stand_in, TINY_APP)
    assert server.close() == (0, False)
    with pytest.raises(OSError):
        request(server.port, "GET", "/health", timeout=2)


def test_gunicorn_dying_takes_nginx_down_with_it(tmp_path, stand_in):
    server = Served(tmp_path, stand_in, TINY_APP)
    gunicorn = subprocess.run(["pgrep", "-P", str(server.process.pid), "-f", "gunicorn"], capture_output=True,
                              text=True, check=True).stdout.split()
    os.kill(int(gunicorn[0]), signal.SIGKILL)
    assert server.process.wait(timeout=60) != 0
    code, leftover = server.close()
    assert not leftover


@pytest.mark.parametrize("setting, error", [
    ({"TRUSTED_PROXY_HOPS": "0"}, "Error: TRUSTED_PROXY_HOPS must be at least 1 behind bin/serve (its nginx is one "
                                  "proxy), not 0"),
    ({"SERVE_NGINX": "/nonexistent/nginx"}, "Error: nginx not found at SERVE_NGINX=/nonexistent/nginx: install it "
                                            "(apt-get install nginx) or set SERVE_NGINX to its path"),
    ({"SERVE_CLIENT_TIMEOUT": "soon"}, "Error: SERVE_CLIENT_TIMEOUT must be a whole number, not 'soon'"),
    ({"SERVE_MEDIA_NICE": "20"}, "Error: SERVE_MEDIA_NICE must be a whole number from 0 to 19, not 20"),
    ({"MEDIA_THREADS": "0"}, "Error: MEDIA_THREADS must be a whole number of at least 1, not 0"),
])
def test_a_serving_mistake_is_one_line_before_anything_starts(setting, error):
    env = {**os.environ, "PORT": str(_free_port()), "IVR_DEV_MODE": "1", **setting}
    done = subprocess.run([str(ROOT / "bin" / "serve")], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr.splitlines()) == (1, [error])
