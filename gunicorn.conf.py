"""gunicorn settings for the two pools bin/serve runs behind nginx (the Procfile and bin/start).

SERVE_POOL (set by bin/serve) names the pool: "web" answers webhooks, pages, the API and /events; "media" holds
the /media streams, which recognise speech, at a lower CPU priority. Speech recognition holds the GIL
(PocketSphinx) for long stretches, so a webhook must never share a process with it. Unset (plain gunicorn), one
pool serves everything. Sizes: ivr.config.pool_config.
"""
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))     # the app's package, from any working directory
from ivr.config import pool_config  # noqa: E402

POOL = os.environ.get("SERVE_POOL", "")
worker_class = "gthread"
workers, threads = pool_config(POOL)
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"

# /metrics sums per-process metrics over the workers: prometheus-client needs a folder shared by them, set
# before any worker imports it. Under bin/serve the folder is bin/serve's (one for both pools, made and emptied
# before either starts); plain gunicorn without one configured gets a fresh temporary folder for its lifetime.
OWN_METRICS_FOLDER = not POOL and not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if OWN_METRICS_FOLDER:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ivr-metrics-")


def on_starting(server):
    """In the master, before any worker boots: refuse a bad or development setting and a database that is missing
    or not migrated (gunicorn prints a RuntimeError such as UnsafeConfig, ConfigError or SchemaError as one "Error:"
    line and exits 1, where each worker would print a traceback; LOG_LEVEL=DEBUG adds the traceback), then clear
    the metrics files only this gunicorn may own. bin/serve starts the media pool once the web pool has passed
    the check, so the media pool skips it: one check, one line."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if POOL != "media":
        _check(folder)
    # files of an earlier run would be summed in; under bin/serve only the master's own (it serves none): the
    # other pool's workers write to the same folder
    for stale in folder.glob(f"*_{os.getpid()}.db" if POOL else "*.db"):
        stale.unlink()


def _check(folder):
    folder.mkdir(parents=True, exist_ok=True)      # before importing the app: its metrics open files there
    from ivr.config import load_config, refuse_dev_defaults
    from ivr.store import schema
    try:
        config = load_config()
        refuse_dev_defaults(config)
        schema.check(config["DATABASE_URL"], config["DATABASE_DEADLINE_SECONDS"])
    except RuntimeError:
        if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
            traceback.print_exc()
        raise


def post_fork(server, worker):
    """Media workers yield the CPU to webhooks: recognition can wait a moment, Twilio's 15 s cannot."""
    if POOL == "media":
        os.nice(int(os.environ.get("SERVE_MEDIA_NICE", "10")))


def on_exit(server):
    """Remove the temporary metrics folder this configuration made."""
    if OWN_METRICS_FOLDER:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the shared Prometheus folder (only when it is in use)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
