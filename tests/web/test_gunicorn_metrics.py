"""gunicorn.conf.py turns prometheus-client's multiprocess mode on, so /metrics sums over the workers."""
import json
import os
import subprocess
import sys
from pathlib import Path

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


def load(env):
    env = {**env, "IVR_DEV_MODE": "1"}     # on_starting refuses the development secrets otherwise
    done = subprocess.run([sys.executable, "-c", LOAD], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_a_fresh_metrics_folder_when_none_is_configured():
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    seen = load(env)
    assert Path(seen["folder"]).name.startswith("ivr-metrics-")
    assert (seen["before"], seen["after"], seen["kept"]) == ([], [], False)


def test_a_configured_folder_is_created_or_emptied_and_kept(tmp_path):
    folder = tmp_path / "metrics"
    seen = load({**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)})
    assert (seen["folder"], seen["before"], seen["after"], seen["kept"]) == (str(folder), None, [], True)
    (folder / "counter_123.db").write_bytes(b"stale")
    (folder / "notes.txt").write_text("not ours")
    seen = load({**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)})
    assert (seen["before"], seen["after"]) == (["counter_123.db", "notes.txt"], ["notes.txt"])
