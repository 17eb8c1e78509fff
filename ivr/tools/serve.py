"""bin/serve: nginx in front of two gunicorn pools (on unix sockets), one foreground command for the Procfile and
bin/start. The web pool answers webhooks, pages, the API and /events; the media pool holds the /media streams, which
recognise speech, at a lower CPU priority (SERVE_MEDIA_NICE), so a webhook never waits for recognition.

All three run as children of this process: when any exits the others are stopped, and SIGTERM or SIGINT stops them
cleanly (nginx first, so no new request reaches a gunicorn that is shutting down).
"""
import argparse
import ctypes
import http.client
import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from ivr.config import ROOT, ConfigError, load_config, pool_config, serve_config
from ivr.tools import nginx_conf

log = logging.getLogger("ivr.serve")
PR_SET_PDEATHSIG = 1
GUNICORN_STOP_SECONDS = 40       # gunicorn.conf.py's graceful_timeout (30 s) and some


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="bin/serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0", help="address nginx listens on (port: PORT, default 5000)")
    parser.add_argument("--app", default="ivr:create_app()", help="the WSGI application gunicorn loads")
    return parser.parse_args(argv)


def find_nginx(configured):
    """The nginx binary: SERVE_NGINX, else on PATH, else Debian's /usr/sbin (not on PATH for most users)."""
    found = shutil.which(configured) if configured else (shutil.which("nginx")
                                                         or shutil.which("nginx", path="/usr/sbin:/sbin"))
    if not found:
        raise ConfigError(f"nginx not found{f' at SERVE_NGINX={configured}' if configured else ''}: install it "
                          "(apt-get install nginx) or set SERVE_NGINX to its path")
    return found


def plan(args, env, run):
    """The front's settings and the environment the pools get, checked before anything starts."""
    config, serving = load_config(env), serve_config(env)
    for pool in ("web", "media"):
        pool_config(pool, env)          # a bad pool size: one line now, not a traceback from gunicorn
    if env.get("TRUSTED_PROXY_HOPS") and config["TRUSTED_PROXY_HOPS"] < 1:
        raise ConfigError("TRUSTED_PROXY_HOPS must be at least 1 behind bin/serve (its nginx is one proxy), "
                          f"not {config['TRUSTED_PROXY_HOPS']}")
    front = nginx_conf.Front(host=args.host, port=config["PORT"], web_socket=run / "web.sock",
                             media_socket=run / "media.sock", run=run,
                             timeout=serving["SERVE_CLIENT_TIMEOUT"],
                             per_address=serving["SERVE_CONNECTIONS_PER_ADDRESS"],
                             max_body=config["MAX_CONTENT_LENGTH"], shutdown=serving["SERVE_SHUTDOWN_SECONDS"],
                             connections=connections_allowed(),
                             user="nobody nogroup" if os.geteuid() == 0 else "")
    child_env = {**env, "TRUSTED_PROXY_HOPS": env.get("TRUSTED_PROXY_HOPS") or "1",     # unset: our nginx alone
                 "SERVE_MEDIA_NICE": str(serving["SERVE_MEDIA_NICE"])}
    return front, find_nginx(serving["SERVE_NGINX"]), child_env


def connections_allowed(wanted=8192):
    """nginx's worker_connections: raise the open-file limit towards the hard one, and take half (each proxied
    connection needs two descriptors: the client's and gunicorn's)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 2 * wanted + 64 if hard == resource.RLIM_INFINITY else min(hard, 2 * wanted + 64)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))      # children inherit it
        soft = target
    return min(wanted, (soft - 64) // 2)


def _die_with_parent():
    """In the child: receive SIGTERM when this supervisor dies, even by SIGKILL, so no orphan keeps the port."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """The two gunicorn pools and nginx as children; stop() ends them in order."""

    def __init__(self, app, front, nginx, env, stopping=()):
        self.app, self.front, self.nginx_path, self.env = app, front, nginx, env
        self.stopping = stopping    # signals received: a SIGTERM while the pools load stops the start too
        self.children = {}          # name: Popen, in the order started

    def start(self):
        """The web pool (its master checks the settings and the database), the media pool once the web pool
        listens (it binds after the check), then nginx once a worker of each pool answers, so that nothing
        reaches a pool still loading the app; False if a gunicorn exited first (it said why) or a signal came."""
        pools = (("web", self.front.web_socket), ("media", self.front.media_socket))
        for pool, sock in pools:
            self.children[pool] = self._gunicorn(pool, sock)
            if not self._wait(pool, sock.exists):
                return False
        for pool, sock in pools:
            if not self._wait(pool, lambda: _answers(sock)):
                return False
        conf = self.front.run / "nginx.conf"
        conf.write_text(nginx_conf.render(self.front))
        self.children["nginx"] = subprocess.Popen(
            [self.nginx_path, "-e", "stderr", "-p", str(self.front.run), "-c", str(conf)], env=self.env,
            preexec_fn=_die_with_parent)
        return True

    def _wait(self, pool, ready):
        """Until READY() is true (True), or the pool's gunicorn exits or a stop signal comes (False)."""
        while not ready():
            if self.children[pool].poll() is not None or self.stopping:
                return False
            time.sleep(0.1)
        return True

    def _gunicorn(self, pool, sock):
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), "--bind", f"unix:{sock}",
             "--control-socket", str(self.front.run / f"{pool}.ctl"), "--access-logfile", "/dev/null", self.app],
            cwd=ROOT, env={**self.env, "SERVE_POOL": pool}, preexec_fn=_die_with_parent)

    def exited(self):
        """(name, code) of a child that has exited, else None."""
        for name, child in self.children.items():
            if child.poll() is not None:
                return name, child.returncode
        return None

    def stop(self):
        """nginx first (SIGQUIT: stop listening, finish what it holds), then both pools (SIGTERM: graceful)."""
        if "nginx" in self.children:
            _stop([self.children["nginx"]], signal.SIGQUIT, self.front.shutdown + 5)
        _stop([child for name, child in self.children.items() if name != "nginx"], signal.SIGTERM,
              GUNICORN_STOP_SECONDS)


def _stop(children, sig, seconds):
    """Signal every child at once, then wait for all of them (SIGKILL for any still running after SECONDS)."""
    for child in children:
        if child.poll() is None:
            child.send_signal(sig)
    deadline = time.monotonic() + seconds
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("pid %s still running %s s after %s: killing it", child.pid, seconds, sig.name)
            child.kill()
            child.wait()


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP to a gunicorn pool's unix socket."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.socket_path))


def _answers(sock, timeout=10):
    """True when a worker behind SOCK answers GET /health (whatever it says): it has loaded the app."""
    conn = _UnixHTTPConnection(sock, timeout)
    try:
        conn.request("GET", "/health")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def shared_metrics(configured, run):
    """The one Prometheus folder of both pools (so /metrics, served by the web pool, sums the media workers' too):
    the configured one emptied of an earlier run's files, else a fresh one in the run folder (removed with it).
    gunicorn.conf.py leaves it to us under bin/serve: one master must not delete the other pool's files."""
    folder = Path(configured) if configured else run / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return folder


def serve(args, env):
    """Run until SIGTERM/SIGINT (exit 0) or until a child exits (exit with its code, at least 1)."""
    run = Path(tempfile.mkdtemp(prefix="ivr-serve-"))
    os.chmod(run, 0o711)        # nginx's workers (nobody, when started as root) reach the socket inside
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: stopping.append(number))
    try:
        front, nginx, child_env = plan(args, env, run)
        child_env["PROMETHEUS_MULTIPROC_DIR"] = str(shared_metrics(env.get("PROMETHEUS_MULTIPROC_DIR"), run))
        supervisor = Supervisor(args.app, front, nginx, child_env, stopping)
        try:
            return _watch(supervisor, front, stopping)
        finally:
            supervisor.stop()
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _watch(supervisor, front, stopping):
    if not supervisor.start():
        ended = supervisor.exited()
        return (ended[1] or 1) if ended else 0     # a gunicorn has printed its one-line reason, or a signal came
    log.info("listening on %s:%s; web pool on unix:%s, media pool on unix:%s", front.host, front.port,
             front.web_socket, front.media_socket)
    while not stopping:
        ended = supervisor.exited()
        if ended:
            log.error("%s exited with %s: stopping the other", *ended)
            return ended[1] or 1
        time.sleep(0.2)
    log.info("stopping (signal %s)", stopping[0])
    return 0


def main(argv=None):
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level if isinstance(logging.getLevelName(level), int) else "INFO", stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        sys.exit(serve(parse_args(argv), dict(os.environ)))
    except ConfigError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
