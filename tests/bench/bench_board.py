"""The live board with 100,000 calls in PostgreSQL and 50 in progress, and the delay from an emergency decision
to the board's visual and audible alert in an open page.

    .venv/bin/python -m tests.bench.bench_board [--calls 100000] [--live 50] [--requests 200] [--probes 20]

Fills a fresh PostgreSQL schema (BENCH_DATABASE_URL, default the local test server) with finished synthetic
calls (bench_control's fill) plus LIVE calls in progress (a fifth of them emergencies), runs the app under
gunicorn like the Procfile, and times, one request at a time on a persistent connection, the board (`/`), its
filtered form and the call page, against a trivial route of the same server (the baseline). Then Debian's
headless Chromium opens the board with the page's AudioContext and Notification observed, and the bench stores
an emergency reading on a live call with the app's own store function, timing each until the row is marked
emergency and the page has asked for the beep. Prints one JSON object on stdout and a summary on stderr.
"""
import argparse
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import text  # noqa: E402

from tests.bench._benchapp import TRIVIAL_PATH  # noqa: E402
from tests.bench._common import ACCOUNT, TOKEN, Gunicorn, emit, make_database, percentile, ratio  # noqa: E402
from tests.bench.bench_control import DEFAULT_URL, PASSWORD, Session, fill, schema_url, timed  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# the page's audio and notifications, observed (headless Chromium has neither speakers nor a notification centre)
OBSERVE = """
window.__sounds = [];
window.AudioContext = class {
  constructor() { this.currentTime = 0; this.destination = {}; }
  resume() { return Promise.resolve(); }
  createGain() { return { gain: {}, connect() {} }; }
  createOscillator() { return { frequency: {}, connect() {}, start() { window.__sounds.push(performance.now()); }, stop() {} }; }
};
window.Notification = class { constructor() {} };
window.Notification.permission = "granted";
"""


def add_live(db, count, rng):
    """COUNT calls in progress from the last 10 minutes, every fifth one an emergency reading; returns their sids."""
    from ivr.store import calls
    from ivr.store.models import utcnow
    from ivr.triage.classifier import Classification
    sids = []
    for i in range(count):
        sid = f"CAlive{i:04d}{uuid.uuid4().hex[:6]}"
        calls.open_call(db, sid, f"+9198{rng.randrange(10**8):08d}", "+1",
                        created_at=utcnow() - timedelta(seconds=rng.uniform(5, 600)))
        calls.claim_stream(db, sid)
        label = "emergency" if i % 5 == 0 else rng.choice(["inquiry", "complaint"])
        calls.add_final(db, sid, "there is a fire near the market please come", 1.0,
                        Classification(label, 0.9, {label: 0.9}))
        sids.append(sid)
    return sids


def measure(session, paths, rounds):
    """p50/p99 milliseconds of each path, interleaved with the trivial baseline."""
    samples = {"trivial": []}
    for _ in range(rounds):
        samples["trivial"].append(timed(session, "POST", TRIVIAL_PATH))
        for name, path in paths.items():
            samples.setdefault(name, []).append(timed(session, "GET", path))
    return {name: {"p50_ms": round(percentile(v, 50) * 1000, 2), "p99_ms": round(percentile(v, 99) * 1000, 2)}
            for name, v in samples.items()}


def decision_to_alert(server_url, db, probes):
    """Seconds from an emergency reading stored on a live call to the board's row marked and its beep asked for."""
    from playwright.sync_api import sync_playwright

    from ivr.store import calls
    from ivr.triage.classifier import Classification
    delays = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(bypass_csp=True)     # lets Playwright evaluate its wait predicate
        page.add_init_script(OBSERVE)
        page.goto(server_url + "/login")
        page.fill("input[name=name]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#live-state.on", timeout=30_000)
        for i in range(probes):
            sid = f"CAprobe{i:03d}{uuid.uuid4().hex[:6]}"
            calls.open_call(db, sid, "+919800000000", "+1")
            calls.claim_stream(db, sid)
            page.wait_for_selector(f"#live-calls #call-{sid}", timeout=10_000)
            sounds = page.evaluate("window.__sounds.length")
            started = time.perf_counter()
            calls.add_final(db, sid, "help there is a fire", 1.0, Classification("emergency", 0.97, {"emergency": 0.97}))
            page.wait_for_function(
                f"document.querySelector('#call-{sid}.emergency .c-alarm:not([hidden])') && window.__sounds.length > {sounds}",
                polling="raf", timeout=10_000)
            delays.append(time.perf_counter() - started)
            calls.close_call(db, sid, "completed", 5)
            time.sleep(random.uniform(0.05, 0.4))     # land at different points of the server's cycle
        browser.close()
    return {"probes": probes, "p50_s": round(percentile(delays, 50), 3), "p99_s": round(percentile(delays, 99), 3),
            "max_s": round(max(delays), 3)}


def run(args, url):
    from ivr.store import Database, operators
    rng = random.Random(11)
    make_database(url)
    started = time.perf_counter()
    fill(url, args.calls, rng)
    db = Database().configure(url)
    with db.engine.begin() as conn:        # bench_control's calls are finished: give them their end
        conn.execute(text("UPDATE calls SET ended_at = created_at + interval '1 minute', duration = 60"))
        conn.execute(text("ANALYZE calls"))
    live = add_live(db, args.live, rng)
    fill_seconds = time.perf_counter() - started
    operators.create(db, "bench", PASSWORD, "admin")
    env = {"DATABASE_URL": url, "SECRET_KEY": "bench-secret", "TWILIO_AUTH_TOKEN": TOKEN,
           "TWILIO_ACCOUNT_SID": ACCOUNT, "ASR_ENGINE": "pocketsphinx", "LOG_LEVEL": "WARNING"}
    paths = {"board": "/", "board class=emergency": "/?class=emergency", "call page": f"/calls/{live[0]}",
             "alerts summary": "/alerts/summary"}
    with Gunicorn(env) as server:
        session = Session(server.port)
        session.sign_in("bench")
        _, page = session.request("GET", "/")
        pinned = page.count(b'<tr id="call-CAlive')
        assert pinned == args.live, f"the board pinned {pinned} of {args.live} live calls"
        measure(session, paths, 5)                       # warm caches and both workers' pools
        figures = measure(session, paths, args.requests)
        delay = decision_to_alert(server.url, db, args.probes)
    db.engine.dispose()
    result = {"calls": args.calls, "live": args.live, "fill_seconds": round(fill_seconds, 1),
              "requests_per_path": args.requests, "latency": figures,
              "p99_ratio_to_trivial": {name: ratio(v["p99_ms"], figures["trivial"]["p99_ms"])
                                       for name, v in figures.items()},
              "emergency_decision_to_alert": delay}
    emit(result, f"{args.calls} calls, {args.live} live: board p99 {figures['board']['p99_ms']} ms (trivial "
                 f"{figures['trivial']['p99_ms']} ms); emergency decision to alert p99 {delay['p99_s']} s, "
                 f"max {delay['max_s']} s over {delay['probes']}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--live", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="requests per path (bounded loop)")
    parser.add_argument("--probes", type=int, default=20)
    args = parser.parse_args(argv)
    admin, schema, url = schema_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    try:
        return run(args, url)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
