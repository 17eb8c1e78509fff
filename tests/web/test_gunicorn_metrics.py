"""gunicorn.conf.py turns prometheus-client's multiprocess mode on, so /metrics sums over the workers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command

from helpers import alembic_config

ROOT = Path(__file__).resolve().parents[2]
LOAD = """
import json, os, runpy
conf = runpy.run_path("gunicorn.conf.py")
folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
before = sorted(os.listdir(folder)) if os.path.isdir(folder) else None
conf["on_starting"](None)
after = sorted(os.listdir(folder))
conf["on_exit"](None)
print(json.dumps({"folder": folder, "before": before, "after": after, "kept": os.path.isdir(folder)}))
"""


@pytest.fixture
def migrated(tmp_path):
    """A migrated database: on_starting refuses one that is not."""
    url = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    command.upgrade(alembic_config(url), "head")
    return url


def load(env, database_url):
    env = {**env, "IVR_DEV_MODE": "1", "DATABASE_URL": database_url}   # on_starting refuses dev secrets otherwise
    done = subprocess.run([sys.executable, "-c", LOAD], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_a_fresh_metrics_folder_when_none_is_configured(migrated):
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    seen = load(env, migrated)
    assert Path(seen["folder"]).name.startswith("ivr-metrics-")
    assert (seen["before"], seen["after"], seen["kept"]) == ([], [], False)


def test_a_configured_folder_is_created_or_emptied_and_kept(tmp_path, migrated):
    folder = tmp_path / "metrics"
    seen = load({**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}, migrated)
    assert (seen["folder"], seen["before"], seen["after"], seen["kept"]) == (str(folder), None, [], True)
    (folder / "counter_123.db").write_bytes(b"stale")
    (folder / "notes.txt").write_text("not ours")
    seen = load({**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}, migrated)
    assert (seen["before"], seen["after"]) == (["counter_123.db", "notes.txt"], ["notes.txt"])
