"""`/voice` while the database is stalled: every caller must still get an answer, the operator, within Twilio's 15 s.

The production gunicorn set-up serves the app. First a baseline of signed /voice posts on a healthy database.
Then another connection holds the database for --stall seconds: `LOCK TABLE calls IN ACCESS EXCLUSIVE MODE` on
PostgreSQL (--database-url), or the write turn on SQLite (another process's writer holding the file). During
the stall, --clients threads post signed /voice requests. Reported: the answer times (p50, p99, max) against the
healthy baseline, how many answers dial the operator (the fault path) and how many are anything else, and what
/health says during and after the stall.

    python -m tests.bench.bench_stalled_db --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""
import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ivr.store import Database, normalise_url  # noqa: E402
from tests.bench._common import ACCOUNT, TOKEN, Gunicorn, emit, make_database, percentile, ratio  # noqa: E402
from tests.bench.bench_voice import bench_database, drop_schema, voice_request  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

OPERATOR = "+15005550100"


def post_voice(port, url, sid, validator):
    """(seconds, status, what the TwiML does) for one signed /voice post."""
    body, headers = voice_request(url + "/voice", sid, validator)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    try:
        conn.request("POST", "/voice", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return time.perf_counter() - started, response.status, _verdict(data)


def _verdict(data):
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return "not TwiML"
    if root.find("Dial/Number") is not None and root.find("Dial/Number").text == OPERATOR:
        return "operator"
    return "answered" if root.find("Start/Stream") is not None else "other"


def health(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        return response.status, json.loads(response.read()).get("database")
    finally:
        conn.close()


def stall(database_url, held, release):
    """Hold the database until RELEASE is set."""
    if database_url.startswith("sqlite"):
        other = Database().configure(database_url)
        with other.session():
            held.set()
            release.wait()
        other.dispose()
        return
    engine = create_engine(normalise_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
        held.set()
        release.wait()
    engine.dispose()


def during_stall(server, args, validator):
    samples, lock = [], threading.Lock()
    held, release = threading.Event(), threading.Event()
    staller = threading.Thread(target=stall, args=(args.database_url_used, held, release), daemon=True)
    staller.start()
    held.wait(10)
    ends = time.monotonic() + args.stall - 2

    def client(number):
        i = 0
        while time.monotonic() < ends:
            result = post_voice(server.port, server.url, f"CAstall{number:03d}{i:05d}".ljust(34, "0"), validator)
            with lock:
                samples.append(result)
            i += 1
            time.sleep(args.pause)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    health_during = health(server.port)
    for thread in threads:
        thread.join()
    release.set()
    staller.join(30)
    return samples, health_during


def run(args):
    with tempfile.TemporaryDirectory(prefix="ivr-bench-stall-") as tmp:
        database_url, created = bench_database(args, tmp)
        args.database_url_used = database_url
        try:
            make_database(database_url)
            env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
                   "TWILIO_API_BASE": "http://127.0.0.1:9", "ASR_ENGINE": "pocketsphinx", "PUBLIC_URL": ""}
            validator = RequestValidator(TOKEN)
            with Gunicorn(env) as server:
                baseline = [post_voice(server.port, server.url, f"CAbase{i:05d}".ljust(34, "0"), validator)
                            for i in range(args.baseline)]
                stalled, health_during = during_stall(server, args, validator)
                time.sleep(1)
                health_after = health(server.port)
        finally:
            drop_schema(created)
    return baseline, stalled, health_during, health_after


def summarise(args, baseline, stalled, health_during, health_after):
    base = [seconds * 1000 for seconds, _, _ in baseline]
    during = [seconds * 1000 for seconds, _, _ in stalled]
    verdicts = {}
    for _, status, verdict in stalled:
        key = verdict if status == 200 else f"status {status}"
        verdicts[key] = verdicts.get(key, 0) + 1
    figures = {"benchmark": "voice_with_a_stalled_database", "database": "postgresql" if args.database_url else "sqlite",
               "stall_seconds": args.stall, "clients": args.clients,
               "baseline": {"requests": len(base), "p50_ms": round(percentile(base, 50), 1),
                            "p99_ms": round(percentile(base, 99), 1)},
               "stalled": {"requests": len(during), "p50_ms": round(percentile(during, 50), 1),
                           "p99_ms": round(percentile(during, 99), 1), "max_ms": round(max(during, default=0), 1),
                           "answers": verdicts},
               "p99_ratio_to_baseline": ratio(percentile(during, 99), percentile(base, 99)),
               "health_during": list(health_during), "health_after": list(health_after),
               "target_met": bool(during) and max(during) <= 5000 and set(verdicts) == {"operator"}}
    summary = (f"stalled {args.stall:g} s: {len(during)} /voice answers, max {figures['stalled']['max_ms']:.0f} ms, "
               f"{verdicts}; healthy p99 {figures['baseline']['p99_ms']} ms; /health during {health_during}")
    return figures, summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (a fresh schema is made in it); default SQLite")
    parser.add_argument("--stall", type=float, default=30.0, help="seconds the database is held")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between a client's posts")
    parser.add_argument("--baseline", type=int, default=40)
    args = parser.parse_args(argv)
    emit(*summarise(args, *run(args)))


if __name__ == "__main__":
    main()
