"""Screening's added latency on POST /voice: the same endpoint with screening on and off.

    .venv/bin/python -m tests.bench.bench_screening [--requests 2000] [--clients 20] [--rounds 4] [--per-round 10]

Both parts use a database filled like a busy day: 10,000 spam numbers and 100 spam ranges, 50,000 calls
in the last two hours from 5,000 numbers to 5,000 lines, 200 watch-list and block entries. Requests come
from a pool of callers (some withheld, some invalid) to a pool of lines.

1. In-process, one thread: signed requests through the Flask test client, alternating screening on and off
   request by request on the same app (SCREEN_ENABLED), so both see the same machine load.
   Also the screening step alone (ivr.screening.numbers.screen) timed call by call on the same data.
2. Under gunicorn (gthread, 2 workers x 16 threads, like the Procfile), 20 concurrent clients: a server with
   screening off, then one with it on, then off and on again, each a few rounds of requests.
Prints one JSON object; the figure asked for is p99(on) - p99(off).
"""
import argparse
import random
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import insert  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from tests.bench._common import ACCOUNT, SECRET, TOKEN, Gunicorn, emit, make_database, percentile, ratio  # noqa: E402
from tests.bench.bench_voice import Client  # noqa: E402

LINES = [f"+1500555{n:04d}" for n in range(5000)]
CALLERS = [f"+9198{n:08d}" for n in range(0, 5_000_000, 1000)] + ["anonymous", "", "+99912345", "112"]


def fill(url):
    """A busy day's data in a fresh database."""
    from ivr.store import Database
    from ivr.store.models import Call, NumberHold, SpamNumber

    make_database(url)
    db = Database().configure(url)
    now, rng = datetime.now(timezone.utc), random.Random(5)
    with db.engine.begin() as conn:
        conn.execute(insert(SpamNumber), [{"number": f"+9197{n:08d}", "reason": "bench", "added_by": "bench",
                                           "source": "bench", "created_at": now} for n in range(10_000)]
                     + [{"number": f"+9114{n:03d}*", "reason": "range", "added_by": "bench", "source": "bench",
                         "created_at": now} for n in range(100)])
        conn.execute(insert(Call), [{"sid": f"CAold{n:08d}", "from_number": rng.choice(CALLERS[:5000]),
                                     "to_number": rng.choice(LINES), "created_at": now - timedelta(seconds=rng.uniform(60, 7200)),
                                     "status": "completed", "utterance_open": False, "voice_seconds": 0.0, "transcript": "",
                                     "partial_transcript": "", "attempts": 0, "routed_early": False, "risk": 0.0,
                                     "faults": [], "reasons": [], "flags": []} for n in range(50_000)])
        conn.execute(insert(NumberHold), [{"number": CALLERS[n * 7], "kind": "watch" if n % 2 else "block",
                                           "reason": "bench", "created_at": now, "expires_at": now + timedelta(hours=24)}
                                          for n in range(200)])
    db.engine.dispose()


def signed(url, sid, rng, validator):
    params = {"CallSid": sid, "AccountSid": ACCOUNT, "From": rng.choice(CALLERS), "To": rng.choice(LINES),
              "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    if rng.random() < 0.3:
        params["StirVerstat"] = rng.choice(["TN-Validation-Passed-A", "TN-Validation-Failed-B", "No-TN-Validation"])
    return params, validator.compute_signature(url, params)


def in_process(url, requests):
    """Alternate on/off request by request through the Flask test client; milliseconds per request."""
    from ivr import create_app

    app = create_app({"DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
                      "SECRET_KEY": SECRET,
                      "TWILIO_API_BASE": "http://127.0.0.1:9", "ASR_ENGINE": "pocketsphinx", "PUBLIC_URL": ""})
    client, rng, validator = app.test_client(), random.Random(7), RequestValidator(TOKEN)
    times, actions = {True: [], False: []}, {}
    for n in range(requests + 200):
        enabled = n % 2 == 0
        app.config["SCREEN_ENABLED"] = enabled
        params, signature = signed("http://localhost/voice", f"CAin{n:08d}", rng, validator)
        started = time.perf_counter()
        response = client.post("/voice", data=params, headers={"X-Twilio-Signature": signature})
        elapsed = (time.perf_counter() - started) * 1000
        if n >= 200:                                  # the first 200 warm caches and connections
            times[enabled].append(elapsed)
        kind = "reject" if b"<Reject" in response.data else "gate" if b"voice/gate" in response.data else "answer"
        actions[kind] = actions.get(kind, 0) + 1
    app.extensions["ivr.db"].engine.dispose()
    return times, actions


def screen_alone(url, calls):
    """The screening step by itself (ivr.screening.numbers.screen: parse, four lookups, checks), milliseconds per call."""
    from ivr.screening.numbers import Rules, screen
    from ivr.store import Database

    db, rng, rules, out = Database().configure(url), random.Random(11), Rules(), []
    for n in range(calls + 200):
        caller, line = rng.choice(CALLERS), rng.choice(LINES)
        started = time.perf_counter()
        screen(db, caller, "IN", line, "", rules)
        if n >= 200:
            out.append((time.perf_counter() - started) * 1000)
    db.engine.dispose()
    return out


def phases(url, index, rounds, per_round, warmup):
    validator, rng = RequestValidator(TOKEN), random.Random(index)
    out = []
    for rnd in range(rounds + 1):
        batch = []
        for i in range(warmup if rnd == 0 else per_round):
            params, signature = signed(url + "/voice", f"CA{index:03d}{rnd:03d}{i:04d}{time.time_ns() % 10**9}", rng,
                                       validator)
            batch.append(("voice", rnd > 0, "/voice", urllib.parse.urlencode(params).encode(),
                          {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}))
        out.append(batch)
    return out


def under_gunicorn(url, enabled, args):
    env = {"DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT, "SECRET_KEY": SECRET,
           "TWILIO_API_BASE": "http://127.0.0.1:9", "ASR_ENGINE": "pocketsphinx", "PUBLIC_URL": "",
           "SCREEN_ENABLED": "1" if enabled else "0"}
    with Gunicorn(env) as server:
        stop = threading.Event()
        barrier = threading.Barrier(args.clients)
        clients = [Client(i, server.port, phases(server.url, i, args.rounds, args.per_round, 5), barrier, stop)
                   for i in range(args.clients)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=300)
        samples = [s for client in clients for s in client.samples["voice"]]
        errors = sum(len(client.errors) for client in clients) + sum(status != 200 for _, _, status, _ in samples)
    return [seconds * 1000 for recorded, seconds, _, _ in samples if recorded], errors


def summary(times):
    return {"requests": len(times), "p50_ms": round(percentile(times, 50), 3), "p99_ms": round(percentile(times, 99), 3),
            "mean_ms": round(sum(times) / max(len(times), 1), 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="in-process requests (half on, half off)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--in-process-only", action="store_true", help="skip the gunicorn part")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ivr-bench-screening-") as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        fill(url)
        times, actions = in_process(url, args.requests)
        alone = screen_alone(url, args.requests)
        served = {True: [], False: []}
        errors = 0
        for enabled in () if args.in_process_only else (False, True, False, True):
            got, bad = under_gunicorn(url, enabled, args)
            served[enabled] += got
            errors += bad
    on, off = summary(times[True]), summary(times[False])
    g_on, g_off = summary(served[True]), summary(served[False])
    figures = {
        "benchmark": "screening_added_latency",
        "in_process": {"screening_on": on, "screening_off": off, "added_p50_ms": round(on["p50_ms"] - off["p50_ms"], 3),
                       "added_p99_ms": round(on["p99_ms"] - off["p99_ms"], 3), "ratio_p99": ratio(on["p99_ms"], off["p99_ms"]),
                       "actions_seen": actions},
        "screen_step_alone": summary(alone),
        "gunicorn_20_clients": {"screening_on": g_on, "screening_off": g_off,
                                "added_p50_ms": round(g_on["p50_ms"] - g_off["p50_ms"], 3),
                                "added_p99_ms": round(g_on["p99_ms"] - g_off["p99_ms"], 3),
                                "ratio_p99": ratio(g_on["p99_ms"], g_off["p99_ms"]), "errors": errors},
    }
    emit(figures, f"screen() alone: p50 {figures['screen_step_alone']['p50_ms']} ms, p99 "
                  f"{figures['screen_step_alone']['p99_ms']} ms; in-process: p99 on {on['p99_ms']} ms vs off {off['p99_ms']} ms (added {figures['in_process']['added_p99_ms']} ms); "
                  f"gunicorn x20 clients: p99 on {g_on['p99_ms']} ms vs off {g_off['p99_ms']} ms "
                  f"(added {figures['gunicorn_20_clients']['added_p99_ms']} ms), errors {errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
