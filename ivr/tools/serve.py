"""bin/serve: nginx in front of gunicorn (on a unix socket), one foreground command for the Procfile and bin/start.

Both run as children of this process: when either exits the other is stopped, and SIGTERM or SIGINT stops both
cleanly (nginx first, so no new request reaches a gunicorn that is shutting down).
"""
import argparse
import ctypes
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ivr.config import ROOT, ConfigError, load_config, serve_config
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
    """The front's settings and the environment gunicorn gets, checked before anything starts."""
    config, serving = load_config(env), serve_config(env)
    if env.get("TRUSTED_PROXY_HOPS") and config["TRUSTED_PROXY_HOPS"] < 1:
        raise ConfigError("TRUSTED_PROXY_HOPS must be at least 1 behind bin/serve (its nginx is one proxy), "
                          f"not {config['TRUSTED_PROXY_HOPS']}")
    front = nginx_conf.Front(host=args.host, port=config["PORT"], socket=run / "gunicorn.sock", run=run,
                             timeout=serving["SERVE_CLIENT_TIMEOUT"],
                             per_address=serving["SERVE_CONNECTIONS_PER_ADDRESS"],
                             max_body=config["MAX_CONTENT_LENGTH"], shutdown=serving["SERVE_SHUTDOWN_SECONDS"],
                             connections=connections_allowed(),
                             user="nobody nogroup" if os.geteuid() == 0 else "")
    child_env = {**env, "TRUSTED_PROXY_HOPS": env.get("TRUSTED_PROXY_HOPS") or "1"}     # unset: our nginx alone
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
    """gunicorn and nginx as children; stop() ends both in order."""

    def __init__(self, app, front, nginx, env):
        self.front, self.nginx_path, self.env = front, nginx, env
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
             "--bind", f"unix:{front.socket}", "--control-socket", str(front.run / "gunicorn.ctl"),
             "--access-logfile", "/dev/null", app],
            cwd=ROOT, env=env, preexec_fn=_die_with_parent)
        self.nginx = None

    def start_front(self):
        """Start nginx once gunicorn listens (it binds after its settings check); False if gunicorn exited."""
        while not self.front.socket.exists():
            if self.gunicorn.poll() is not None:
                return False
            time.sleep(0.05)
        conf = self.front.run / "nginx.conf"
        conf.write_text(nginx_conf.render(self.front))
        self.nginx = subprocess.Popen([self.nginx_path, "-e", "stderr", "-p", str(self.front.run), "-c", str(conf)],
                                      env=self.env, preexec_fn=_die_with_parent)
        return True

    def exited(self):
        """(name, code) of a child that has exited, else None."""
        for name, child in (("gunicorn", self.gunicorn), ("nginx", self.nginx)):
            if child is not None and child.poll() is not None:
                return name, child.returncode
        return None

    def stop(self):
        """nginx first (SIGQUIT: stop listening, finish what it holds), then gunicorn (SIGTERM: graceful)."""
        if self.nginx is not None:
            _stop(self.nginx, signal.SIGQUIT, self.front.shutdown + 5)
        _stop(self.gunicorn, signal.SIGTERM, GUNICORN_STOP_SECONDS)


def _stop(child, sig, seconds):
    if child.poll() is None:
        child.send_signal(sig)
    try:
        child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        log.warning("pid %s still running %s s after %s: killing it", child.pid, seconds, sig.name)
        child.kill()
        child.wait()


def serve(args, env):
    """Run until SIGTERM/SIGINT (exit 0) or until a child exits (exit with its code, at least 1)."""
    run = Path(tempfile.mkdtemp(prefix="ivr-serve-"))
    os.chmod(run, 0o711)        # nginx's workers (nobody, when started as root) reach the socket inside
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: stopping.append(number))
    try:
        front, nginx, child_env = plan(args, env, run)
        supervisor = Supervisor(args.app, front, nginx, child_env)
        try:
            return _watch(supervisor, front, stopping)
        finally:
            supervisor.stop()
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _watch(supervisor, front, stopping):
    if not supervisor.start_front():
        return supervisor.gunicorn.returncode or 1     # it has printed its one-line reason
    log.info("listening on %s:%s; gunicorn on unix:%s", front.host, front.port, front.socket)
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
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
