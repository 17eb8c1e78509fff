"""Helpers shared by the benchmarks: bin/serve or a plain gunicorn subprocess, /proc CPU counters, percentiles,
output."""
import http.client
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests" / "fixtures" / "audio"
TOKEN = "bench-auth-token"
SECRET = "bench-secret-" + "s" * 32
ACCOUNT = "AC" + "b" * 32
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values, q):
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def ratio(a, b):
    return round(a / b, 3) if b else None


def emit(figures, summary):
    """The figures as one JSON object on stdout; a short summary for people on stderr."""
    json.dump(figures, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    sys.stdout.flush()
    sys.stderr.write(summary.rstrip() + "\n")


def make_database(url):
    """Create the schema in a fresh database (the benchmarks' own, never the app's) the way production does:
    the Alembic migrations, which also install the PostgreSQL trigger that wakes live pages."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def proc_cpu_seconds(pid, include_reaped_children=False):
    """utime+stime of one process from /proc (plus cutime+cstime: children it has waited for)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])          # fields 14, 15 of proc(5), counted from `state` = 3
    if include_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def children_of(pid):
    """Pids whose parent is PID (gunicorn's workers), read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def established_per_process(pids, port):
    """Open (ESTABLISHED) TCP connections to local PORT held by each pid, from /proc (no psutil here)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                        inodes.add(fields[9])
        except OSError:
            continue
    counts = {}
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        counts[pid] = sum(link.startswith("socket:[") and link[8:-1] in inodes for link in links)
    return counts


def descendants_of(pid):
    """PID's children, their children and so on (bin/serve: two gunicorn masters and their workers, nginx)."""
    found = children_of(pid)
    for child in list(found):
        found += descendants_of(child)
    return sorted(found)


class ServerLog:
    """A server this benchmark started in a process group of its own (self.process), and its log file
    (self.log_path), read back; a context manager that stops it and removes its folder (self.tmp)."""

    def stop(self, grace):
        """SIGTERM, GRACE seconds to stop, then SIGKILL whatever is left of the process group (workers of a
        killed master)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.process.poll() is None:
            self.process.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        self.tmp.cleanup()

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_problems(self, keep=3):
        """Warnings, errors and tracebacks in the server log: (count, the last few lines)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return 0, []
        marks = (" WARNING ", " ERROR ", " CRITICAL ", "[WARNING]", "[ERROR]", "[CRITICAL]", "Traceback")
        found = [line for line in lines if any(mark in line for mark in marks)]
        return len(found), [line[:300] for line in found[-keep:]]


class Served(ServerLog):
    """bin/serve (the Procfile's web: process: nginx, a web pool and a media pool) with the production settings on
    a free port; the same methods as Gunicorn below."""

    def __init__(self, env, app="ivr:create_app()", ready_timeout=120.0):
        from ivr.config import pool_config

        env = {**os.environ, **env}
        self.workers = sum(pool_config(pool, env)[0] for pool in ("web", "media"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.TemporaryDirectory(prefix="ivr-bench-serve-")
        self.log_path = Path(self.tmp.name) / "serve.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(ROOT / "bin" / "serve"), "--host", "127.0.0.1", "--app", app],
                                        cwd=ROOT, env={**env, "PORT": str(self.port)}, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, timeout):
        """Until every worker of both pools has loaded the app (each logs its recognition slots when it has)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bin/serve exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.log_path.read_text(errors="replace").count("recognition slots: ") >= self.workers:
                return
            time.sleep(0.2)
        raise RuntimeError(f"bin/serve's {self.workers} workers not all ready after {timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def cpu_seconds(self):
        """CPU seconds of every process under bin/serve so far, per pid (reaped workers count in their master's)."""
        return {pid: proc_cpu_seconds(pid, include_reaped_children=True)
                for pid in [self.process.pid, *descendants_of(self.process.pid)]}

    def connections(self):
        """Open client connections to nginx (a Media Stream holds one for the whole call)."""
        return established_per_process(descendants_of(self.process.pid), self.port)

    def close(self):
        """SIGTERM (bin/serve stops nginx and both pools), then SIGKILL whatever of the group is left."""
        self.stop(grace=60)
        self._log.close()


class Gunicorn(ServerLog):
    """The bench app under gunicorn with the production gunicorn.conf.py (as the Procfile runs it) on a free port.

    The listening socket is bound here and handed over as fd://, so there is no race for the port.
    """

    def __init__(self, env, workers=None, threads=None, ready_timeout=90.0):
        production = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
        workers, threads = workers or production["workers"], threads or production["threads"]
        self.workers, self.threads = workers, threads
        self.tmp = tempfile.TemporaryDirectory(prefix="ivr-bench-gunicorn-")
        self.log_path = Path(self.tmp.name) / "gunicorn.log"
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        fd = self.listener.fileno()
        command = [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"), "--access-logfile", "/dev/null",
                   "--workers", str(workers), "--threads", str(threads),
                   "--bind", f"fd://{fd}", "--graceful-timeout", "5", "tests.bench._benchapp:create()"]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, pass_fds=(fd,),
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.worker_pids = self._wait_ready(ready_timeout)
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, timeout):
        """Until every worker has answered the trivial route (each loads the app, classifier and engine)."""
        from tests.bench._benchapp import TRIVIAL_PATH

        deadline, seen = time.monotonic() + timeout, set()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", TRIVIAL_PATH, body=b"", headers={"Connection": "close"})
                response = conn.getresponse()
                if response.status == 200:
                    seen.add(int(response.read()))
                conn.close()
            except (OSError, http.client.HTTPException, ValueError):
                pass
            if len(seen) >= self.workers:
                return sorted(seen)
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn workers not all ready after {timeout:.0f} s (saw {sorted(seen)}):\n"
                           f"{self.log_tail()}")

    def cpu_seconds(self):
        """CPU seconds of the master and its workers so far, per pid (reaped workers count in the master's)."""
        pid = self.process.pid
        per = {pid: proc_cpu_seconds(pid, include_reaped_children=True)}
        for child in children_of(pid):
            per[child] = proc_cpu_seconds(child)
        return per

    def connections(self):
        """Open client connections per worker pid (a Media Stream holds one for the whole call)."""
        return established_per_process(children_of(self.process.pid), self.port)

    def close(self):
        """Stop gunicorn (TERM, then KILL its process group) and free the socket."""
        self.stop(grace=15)
        self.listener.close()
        self._log.close()
