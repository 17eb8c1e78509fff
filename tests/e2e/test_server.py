"""The Quick start's `bin/start`: bin/serve (nginx in front of gunicorn, as the Procfile runs it) serving a whole call."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ivr.tools import simulate
from training.train import ROOT

from conftest import ACCOUNT, FIXTURES, TOKEN

pytestmark = pytest.mark.e2e


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def started_app(tmp_path, stand_in):
    port = free_port()
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
           "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
           "TWILIO_API_BASE": f"http://127.0.0.1:{stand_in.port}", "WEB_CONCURRENCY": "2", "LOG_LEVEL": "WARNING",
           "IVR_STREAM_MAX_SPEED": "4"}   # the simulator plays the call at 2x, production's audio-rate cap
    log = open(tmp_path / "start.log", "wb")   # a file, not a pipe: nobody drains a pipe while the test runs
    process = subprocess.Popen([str(ROOT / "bin" / "start")], env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    health = json.loads(response.read())
                    break
            except OSError:
                assert process.poll() is None, (tmp_path / "start.log").read_text()
                time.sleep(0.5)
        else:
            raise AssertionError("bin/start did not come up in 120 s")
        yield url, health
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def test_bin_start_serves_a_whole_call_under_gunicorn(started_app, stand_in):
    url, health = started_app
    assert health == {"status": "ok", "database": "ok", "speech_engine": "pocketsphinx",
                      "classifier": health["classifier"]}
    args = simulate.parse_args(["--url", url, "--auth-token", TOKEN, "--account-sid", ACCOUNT, "--speed", "2",
                                "--wav", str(FIXTURES / "audio" / "emergency_fire.wav"), "--digit", "1"])
    outcome = simulate.simulate(args, stand_in=stand_in)
    assert outcome["errors"] == []
    assert (outcome["result"], outcome["route_target"], outcome["routed_by"]) == \
        ("dialled", "+15005550101", "live-update")


def test_the_procfile_web_process_refuses_the_development_secret_in_one_line(tmp_path):
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "IVR_DEV_MODE")}
    env.update(PORT=str(free_port()), DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}", TWILIO_AUTH_TOKEN=TOKEN,
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    done = subprocess.run(["bash", "-c", web.removeprefix("web:").strip()], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert errors == ["Error: SECRET_KEY is the development default: set SECRET_KEY (IVR_DEV_MODE=1 allows the "
                      "default for local development over http only)"]
