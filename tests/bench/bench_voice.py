"""/voice webhook latency under 20 concurrent clients, as a ratio to a trivial endpoint on the same server.

    .venv/bin/python -m tests.bench.bench_voice [--clients 20] [--rounds 10] [--per-round 20]

Runs the app under gunicorn (gunicorn.conf.py, as the Procfile runs it) with a bench-only trivial
route, then alternates rounds of signed /voice posts (a new CallSid each) and trivial posts from the same
persistent connections. Prints one JSON object on stdout and a summary on stderr.
"""
import argparse
import http.client
import os
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, text  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from ivr.store import normalise_url  # noqa: E402

from tests.bench._benchapp import TRIVIAL_PATH  # noqa: E402
from tests.bench._common import ACCOUNT, SECRET, TOKEN, Gunicorn, emit, make_database, percentile, ratio  # noqa: E402

TIME_BUDGET_SECONDS = 120.0


class Client(threading.Thread):
    """One persistent connection sending phase after phase, in step with the others (a barrier per phase)."""

    def __init__(self, index, port, phases, barrier, stop):
        super().__init__(daemon=True)
        self.index, self.port, self.phases, self.barrier, self.stop = index, port, phases, barrier, stop
        self.conn = None
        self.samples = {"voice": [], "trivial": []}    # (recorded, seconds, status, body)
        self.errors, self.reconnects, self.worker = [], 0, None

    def run(self):
        try:
            for phase in self.phases:
                self.barrier.wait(timeout=120)
                if self.stop.is_set():
                    break
                for kind, recorded, path, body, headers in phase:
                    self._send(kind, recorded, path, body, headers)
        except threading.BrokenBarrierError:
            self.errors.append("barrier broken")
        finally:
            if self.conn is not None:
                self.conn.close()

    def _send(self, kind, recorded, path, body, headers):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                started = time.perf_counter()
                self.conn.request("POST", path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                elapsed = time.perf_counter() - started
            except (OSError, http.client.HTTPException) as error:
                self.conn.close()
                self.conn = None
                self.reconnects += 1
                if attempt == 2:
                    self.errors.append(f"{kind}: {error!r}")
                continue
            if kind == "trivial" and response.status == 200:
                self.worker = data.decode(errors="replace")
            self.samples[kind].append((recorded, elapsed, response.status, data))
            return


def voice_request(url, sid, validator):
    params = {"CallSid": sid, "AccountSid": ACCOUNT, "From": "+919812345678", "To": "+15005550001",
              "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    body = urllib.parse.urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": validator.compute_signature(url, params)}
    return body, headers


def build_phases(args, url, client):
    """Every request a client will send, signed up front so the timed loop only does I/O.

    Round 0 is a warm-up (not recorded); rounds then alternate which endpoint goes first.
    """
    validator = RequestValidator(TOKEN)
    phases = []
    for rnd in range(args.rounds + 1):
        per = args.warmup if rnd == 0 else args.per_round
        recorded = rnd > 0
        voice, trivial = [], []
        for i in range(per):
            body, headers = voice_request(url + "/voice", f"CA{client:04d}{rnd:04d}{i:04d}".ljust(34, "0"), validator)
            voice.append(("voice", recorded, "/voice", body, headers))
            trivial.append(("trivial", recorded, TRIVIAL_PATH, body, headers))   # same body: same bytes on the wire
        phases.extend([voice, trivial] if rnd % 2 == 0 else [trivial, voice])
    return phases


def check_voice(status, body):
    if status != 200:
        return f"status {status}"
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "body is not XML"
    if root.tag != "Response" or root.find("Start/Stream") is None or b"<Start>" not in body:
        return "TwiML without <Start><Stream>"
    return None


def count_calls(url):
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT COUNT(*) FROM calls")).scalar_one()
    engine.dispose()
    return count


def bench_database(args, tmp):
    """SQLite in tmp, or a fresh schema in the PostgreSQL database given with --database-url."""
    if not args.database_url:
        return f"sqlite:///{tmp}/bench.sqlite3", None
    schema = f"bench_{os.getpid()}_{int(time.time())}"
    admin = create_engine(normalise_url(args.database_url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in args.database_url else "?"
    return f"{args.database_url}{separator}options=-csearch_path%3D{schema}", (admin, schema)


def drop_schema(created):
    if created:
        admin, schema = created
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def run(args):
    with tempfile.TemporaryDirectory(prefix="ivr-bench-voice-") as tmp:
        database_url, created = bench_database(args, tmp)
        try:
            return _run(args, database_url)
        finally:
            drop_schema(created)


def _run(args, database_url):
    make_database(database_url)
    env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
           "SECRET_KEY": SECRET,
           "TWILIO_API_BASE": "http://127.0.0.1:9", "ASR_ENGINE": "pocketsphinx", "PUBLIC_URL": ""}
    with Gunicorn(env, workers=args.workers, threads=args.threads) as server:
        stop = threading.Event()
        barrier = threading.Barrier(args.clients, action=lambda: _budget(stop, started))
        clients = [Client(i, server.port, build_phases(args, server.url, i), barrier, stop)
                   for i in range(args.clients)]
        started = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=TIME_BUDGET_SECONDS + 60)
        wall = time.monotonic() - started
        cut_short = stop.is_set()
        stop.set()
        barrier.abort()
        hung = sum(client.is_alive() for client in clients)
        server_errors = server.log_problems()
        calls_in_db = count_calls(database_url)
    return clients, wall, hung, server_errors, calls_in_db, cut_short


def _budget(stop, started):
    if time.monotonic() - started > TIME_BUDGET_SECONDS:
        stop.set()


def summarise(args, clients, wall, hung, server_errors, calls_in_db):
    figures = {"benchmark": "voice_webhook_latency", "clients": args.clients,
               "server": f"gunicorn.conf.py (workers {args.workers or 'as configured'}, "
                         f"threads {args.threads or 'as configured'})"}
    problems = []
    sent_voice = 0
    for kind in ("voice", "trivial"):
        samples = [s for client in clients for s in client.samples[kind]]
        sent_voice += len(samples) if kind == "voice" else 0
        timed = [seconds * 1000 for recorded, seconds, _, _ in samples if recorded]
        figures[kind] = {"requests": len(timed), "p50_ms": round(percentile(timed, 50), 2),
                         "p90_ms": round(percentile(timed, 90), 2), "p99_ms": round(percentile(timed, 99), 2),
                         "max_ms": round(max(timed, default=float("nan")), 2),
                         "mean_ms": round(sum(timed) / max(len(timed), 1), 2),
                         "over_100ms": sum(ms > 100 for ms in timed)}
        if kind == "voice":
            bad = [why for _, _, status, body in samples if (why := check_voice(status, body))]
            figures[kind]["bad_responses"] = len(bad)
            problems += sorted(set(bad))[:5]
        else:
            figures[kind]["non_200"] = sum(status != 200 for _, _, status, _ in samples)
    figures["ratio_p50"] = ratio(figures["voice"]["p50_ms"], figures["trivial"]["p50_ms"])
    figures["ratio_p99"] = ratio(figures["voice"]["p99_ms"], figures["trivial"]["p99_ms"])
    figures["wall_seconds"] = round(wall, 1)
    figures["calls_in_db"] = calls_in_db
    figures["calls_in_db_match"] = calls_in_db == sent_voice
    workers = {}
    for client in clients:
        workers[client.worker] = workers.get(client.worker, 0) + 1
    figures["connections_per_worker"] = sorted(workers.values(), reverse=True)
    errors = [e for client in clients for e in client.errors]
    figures["client_errors"] = len(errors)
    figures["reconnects"] = sum(client.reconnects for client in clients)
    figures["hung_clients"] = hung
    figures["server_log_problems"], figures["last_server_log_problems"] = server_errors
    figures["all_voice_ok"] = (figures["voice"]["bad_responses"] == 0 and not errors and hung == 0
                               and figures["voice"]["requests"] == args.clients * args.rounds * args.per_round)
    problems += errors[:5]
    return figures, problems


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--database-url", help="PostgreSQL URL to run against (default: a temporary SQLite file)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: gunicorn.conf.py's)")
    parser.add_argument("--rounds", type=int, default=20, help="recorded rounds (each: one phase per endpoint)")
    parser.add_argument("--per-round", type=int, default=20, help="requests per client per endpoint per round")
    parser.add_argument("--warmup", type=int, default=5, help="unrecorded requests per client per endpoint first")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    clients, wall, hung, server_errors, calls_in_db, cut_short = run(args)
    figures, problems = summarise(args, clients, wall, hung, server_errors, calls_in_db)
    figures["cut_short_by_time_budget"] = cut_short
    v, t = figures["voice"], figures["trivial"]
    summary = (f"/voice p50 {v['p50_ms']} ms, p99 {v['p99_ms']} ms; "
               f"trivial p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms; "
               f"ratio p50 x{figures['ratio_p50']}, p99 x{figures['ratio_p99']} "
               f"({v['requests']} + {t['requests']} requests from {args.clients} clients "
               f"in {figures['wall_seconds']} s)"
               + ("" if figures["all_voice_ok"] else f"\nPROBLEMS: {problems}"))
    emit(figures, summary)
    return 0 if figures["all_voice_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
