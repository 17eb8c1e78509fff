"""gunicorn settings for the web process (run by bin/serve behind nginx: the Procfile and bin/start).

Several processes per core, because speech recognition holds the GIL (PocketSphinx) and needs the cores; many
threads per process, because every live call holds one thread for its media stream for the whole call.
"""
import multiprocessing
import os
import shutil
import tempfile
import traceback
from pathlib import Path

worker_class = "gthread"
# Two processes per core: gunicorn does not balance WebSockets across processes, and with one per core a
# process holding most of the streams saturates its core while the other idles (bench_capacity).
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 32))
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"

# /metrics sums per-process metrics over the workers: prometheus-client needs a folder shared by them, set
# before any worker imports it. Without one configured, a fresh temporary folder for this server's lifetime.
OWN_METRICS_FOLDER = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if OWN_METRICS_FOLDER:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ivr-metrics-")


def on_starting(server):
    """In the master, before any worker boots: refuse a bad or development setting and a database that is missing
    or not migrated (gunicorn prints a RuntimeError such as UnsafeConfig, ConfigError or SchemaError as one "Error:"
    line and exits 1, where each worker would print a traceback; LOG_LEVEL=DEBUG adds the traceback), then start
    with an empty metrics folder (files left by an earlier run would be summed in)."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
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
    for stale in folder.glob("*.db"):              # an earlier run's, and the master's own (it serves none)
        stale.unlink()


def on_exit(server):
    """Remove the temporary metrics folder this configuration made."""
    if OWN_METRICS_FOLDER:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the shared Prometheus folder (only when it is in use)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
