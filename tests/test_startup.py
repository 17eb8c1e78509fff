"""Start-up mistakes are one line naming the fix (a traceback only with LOG_LEVEL=DEBUG), and a missing classifier
does not stop the line: its calls go to the operator."""
import os
import subprocess
import sys

import pytest

from ivr.call.listener import CallListener
from ivr.store import calls

from conftest import make_app
from helpers import answer, keypad

GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", "127.0.0.1:0",
            "--workers", "1", "ivr:create_app()"]


def serve(tmp_path, **env):
    env = {**os.environ, "IVR_DEV_MODE": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), **env}
    return subprocess.run(GUNICORN, env=env, capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(__file__)))


@pytest.mark.parametrize("setting, says", [
    ({"DATABASE_URL": "sqlite:///{tmp}/missing/ivr.sqlite3"}, "/missing, which does not exist"),
    ({"DATABASE_URL": "sqlite:///{tmp}/fresh.sqlite3"}, "no database at"),
    ({"DATABASE_DEADLINE_SECONDS": "three"}, "DATABASE_DEADLINE_SECONDS"),
    ({"IVR_DEV_MODE": ""}, "SECRET_KEY is the development default"),
])
def test_a_start_up_mistake_is_one_error_line_without_a_traceback(tmp_path, setting, says):
    setting = {key: value.format(tmp=tmp_path) for key, value in setting.items()}
    done = serve(tmp_path, **setting)
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 1 and len(errors) == 1 and says in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "fresh.sqlite3").exists() and not (tmp_path / "missing").exists()


def test_log_level_debug_adds_the_traceback(tmp_path):
    done = serve(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/fresh.sqlite3", LOG_LEVEL="DEBUG")
    assert done.returncode == 1 and "Traceback" in done.stderr and "SchemaError" in done.stderr


@pytest.fixture
def app(database_url, stand_in, tmp_path):
    app = make_app(database_url, stand_in, TRIAGE_MODEL_PATH=str(tmp_path / "gone.joblib"))
    yield app
    app.extensions["ivr.changes"].close()
    app.extensions["ivr.db"].dispose()


def test_without_its_classifier_the_app_starts_and_calls_with_speech_go_to_the_operator(app, db, twilio_post, caplog):
    said = " ".join(record.getMessage() for record in caplog.get_records("setup"))
    assert "gone.joblib is missing: build it with `python -m training.train`" in said
    assert app.test_client().get("/health").get_json()["classifier"] == "unavailable"
    sid, _ = answer(twilio_post)
    calls.claim_stream(db, sid)
    listener = CallListener(db, app.extensions["ivr.classifier"], app.extensions["ivr.live"], app.config, {})
    listener.final(sid, "there is a fire", "there is a fire", 2.0)
    assert "Traceback" not in caplog.text
    assert calls.get_call(db, sid).faults[0].startswith("classifier unavailable")
    assert keypad(twilio_post, sid, "2").find("Dial/Number").text == "+15005550100"


@pytest.mark.parametrize("database_url, says", [
    ("sqlite:///{tmp}/missing/ivr.sqlite3", "which does not exist"),
    ("postgresql://postgres@127.0.0.1:1/nowhere", "does not answer"),
])
def test_an_admin_command_against_a_wrong_database_is_one_error_line(tmp_path, database_url, says):
    env = {**os.environ, "IVR_DEV_MODE": "1", "DATABASE_URL": database_url.format(tmp=tmp_path)}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "ivr", "spam", "list"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=os.path.dirname(os.path.dirname(__file__)))
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 1 and len(errors) == 1 and says in errors[0], done.stderr
    assert "Traceback" not in done.stderr
