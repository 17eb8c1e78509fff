"""Signed /voice p99 while 200 stalled connections are held open, as a ratio to the same figure with none: bin/serve
(nginx in front of gunicorn, the Procfile's web: process) against plain gunicorn (the old one), in one run.

    .venv/bin/python -m tests.bench.bench_slow_clients [--stalled 200] [--requests 60] [--clients 4]

A stalled connection sends the headers of a POST /voice and part of its body, then nothing. The attacker keeps
--stalled of them open all through the measurement: one the server closes (nginx's client timeout) is opened
again at once. They come from 127.0.0.2 and up, at most 50 per address (below bin/serve's per-address cap). A
/voice that has no answer within --timeout (Twilio's 15 s) counts as that long and as timed out.
"""
import argparse
import http.client
import math
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from twilio.request_validator import RequestValidator  # noqa: E402

from tests.bench._common import (ACCOUNT, ROOT, SECRET, TOKEN, Gunicorn, emit, make_database,  # noqa: E402
                                 percentile, ratio)
from tests.bench.bench_voice import check_voice, voice_request  # noqa: E402

PER_ADDRESS = 50


class Stalled(threading.Thread):
    """Holds COUNT stalled /voice requests open against PORT, reopening any the server closes."""

    def __init__(self, port, count):
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.selector, self.stop, self.opened, self.reopened = selectors.DefaultSelector(), threading.Event(), 0, 0

    def _open(self, index):
        source = f"127.0.0.{2 + index // PER_ADDRESS}"
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(source, 0))
        sock.sendall(f"POST /voice HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/"
                     f"x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\nCallSid=CA".encode())
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, index)
        self.opened += 1

    def run(self):
        for index in range(self.count):
            self._open(index)
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                self.selector.unregister(key.fileobj)
                key.fileobj.close()         # answered or closed by the server: a new stalled request replaces it
                self.reopened += 1
                self._open(key.data)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


def signed_voice(port, timeout, number):
    """Seconds one signed /voice took (TIMEOUT when it had no answer) and what was wrong, if anything."""
    url = f"http://127.0.0.1:{port}/voice"
    body, headers = voice_request(url, f"CA{os.getpid():08d}{number:06d}".ljust(34, "0"), RequestValidator(TOKEN))
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/voice", body=body, headers={**headers, "Connection": "close"})
        response = conn.getresponse()
        problem = check_voice(response.status, response.read())
        return time.perf_counter() - started, problem
    except (OSError, http.client.HTTPException) as error:
        return timeout, "timed out" if isinstance(error, TimeoutError) else repr(error)
    finally:
        conn.close()


def measure(args, port, first):
    """Latencies of up to --requests signed /voice from --clients at a time, within --phase-seconds."""
    deadline, numbers = time.monotonic() + args.phase_seconds, iter(range(first, first + args.requests))
    results, lock = [], threading.Lock()

    def client():
        while time.monotonic() < deadline:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            outcome = signed_voice(port, args.timeout, number)
            with lock:
                results.append(outcome)

    with ThreadPoolExecutor(args.clients) as pool:
        for _ in range(args.clients):
            pool.submit(client)
    timed = [seconds * 1000 for seconds, _ in results]
    problems = [problem for _, problem in results if problem]
    return {"requests": len(results), "p50_ms": round(percentile(timed, 50), 1),
            "p99_ms": round(percentile(timed, 99), 1), "failed": len(problems),
            "timed_out": problems.count("timed out"), "problems": sorted(set(problems))[:3]}


def phases(args, port):
    """The same measurement with no stalled connection, then with --stalled held open (after a warm-up: each
    worker's first requests open its database connections)."""
    measure(argparse.Namespace(**{**vars(args), "requests": 4 * args.clients}), port, 200000)
    quiet = measure(args, port, 0)
    attacker = Stalled(port, args.stalled)
    attacker.start()
    while attacker.opened < args.stalled and attacker.is_alive():
        time.sleep(0.05)
    time.sleep(1.0)                 # let the server take them all in
    stalled = measure(args, port, 100000)
    stalled.update(held=args.stalled, reopened_by_attacker=attacker.reopened)
    attacker.stop.set()
    attacker.join(timeout=10)
    return {"none": quiet, "stalled": stalled, "ratio_p99": ratio(stalled["p99_ms"], quiet["p99_ms"])}


class Served:
    """bin/serve with the bench app on a free port."""

    def __init__(self, env, workers, threads, folder):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log = open(Path(folder) / "serve.log", "wb")
        env = {**os.environ, **env, "PORT": str(self.port), "WEB_CONCURRENCY": str(workers),
               "GUNICORN_THREADS": str(threads), "LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen([str(ROOT / "bin" / "serve"), "--host", "127.0.0.1", "--app",
                                         "tests.bench._benchapp:create()"], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while signed_voice(self.port, 5, 999999)[1] is not None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"bin/serve did not come up: see {self.log.name}")
            time.sleep(0.3)

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
        self.log.close()


def run(args):
    with tempfile.TemporaryDirectory(prefix="ivr-bench-slow-") as tmp:
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        make_database(database_url)
        env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
               "SECRET_KEY": SECRET, "TWILIO_API_BASE": "http://127.0.0.1:9", "ASR_ENGINE": "pocketsphinx",
               "PUBLIC_URL": ""}
        print(f"bin/serve: {args.workers} x {args.threads} threads, {args.stalled} stalled", file=sys.stderr)
        served = Served(env, args.workers, args.threads, tmp)
        try:
            front = phases(args, served.port)
        finally:
            served.close()
        print("plain gunicorn (the old web: process)", file=sys.stderr)
        with Gunicorn(env, workers=args.workers, threads=args.threads) as server:
            plain = phases(args, server.port)
    return {"benchmark": "slow_clients", "workers": args.workers, "threads": args.threads, "stalled": args.stalled,
            "timeout_s": args.timeout, "serve": front, "gunicorn": plain}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stalled", type=int, default=200, help="stalled connections held open")
    parser.add_argument("--requests", type=int, default=60, help="signed /voice per phase (at most)")
    parser.add_argument("--clients", type=int, default=4, help="signed /voice in flight at a time")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (both set-ups)")
    parser.add_argument("--threads", type=int, default=16, help="threads per gunicorn process (both set-ups)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds a /voice may take (Twilio's limit)")
    parser.add_argument("--phase-seconds", type=float, default=40.0, help="no new /voice after this long a phase")
    args = parser.parse_args(argv)
    if args.stalled > PER_ADDRESS * 250:
        parser.error(f"--stalled must be at most {PER_ADDRESS * 250} (127.0.0.2 to 127.0.0.251)")
    return args


def main(argv=None):
    figures = run(parse_args(argv))
    front, plain = figures["serve"], figures["gunicorn"]
    lines = [f"{name:8} p99 none {s['none']['p99_ms']:8.1f} ms, with {figures['stalled']} stalled "
             f"{s['stalled']['p99_ms']:8.1f} ms (timed out {s['stalled']['timed_out']}/{s['stalled']['requests']})"
             f"  ratio {s['ratio_p99']}" for name, s in (("serve", front), ("gunicorn", plain))]
    emit(figures, "\n".join(lines))
    broken = front["none"]["failed"] or front["stalled"]["failed"] or not math.isfinite(front["ratio_p99"] or 0)
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
