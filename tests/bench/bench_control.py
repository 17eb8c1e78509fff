"""Control-room latency with 100,000 calls in PostgreSQL, and the delay from a stored transcript to an open page.

    .venv/bin/python -m tests.bench.bench_control [--calls 100000] [--requests 200] [--probes 20]

Fills a fresh PostgreSQL schema (BENCH_DATABASE_URL, default the local test server) with synthetic calls,
runs the app under gunicorn (gthread, 2 workers x 16 threads, like the Procfile) and measures, one request at a
time on a persistent connection: the calls page and GET /api/calls (unfiltered and with each kind of filter),
and one call's page, its API record, JSON export and printable page (calls with timed turns and notes),
against a trivial route of the same server as the baseline. It then drops the indexes the list relies on
(created_at, from_number, reversed digits) and measures again, to show what they buy. Last, Debian's headless Chromium opens the
calls page and the bench stores partial transcripts with the app's own store function, timing each until the
page shows it. Prints one JSON object on stdout and a summary on stderr.
"""
import argparse
import http.client
import json
import os
import random
import re
import sys
import time
import urllib.parse
import uuid
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from tests.bench._benchapp import TRIVIAL_PATH  # noqa: E402
from tests.bench._common import ACCOUNT, TOKEN, Gunicorn, emit, make_database, percentile, ratio  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
API_KEY = "bench-api-key-" + "x" * 24
PASSWORD = "bench password 123"
# The indexes the list relies on; the bench drops them at the end to show what each buys.
INDEXES = ("ix_calls_created_at", "ix_calls_from_number", "ix_calls_from_digits_reversed")
LABELS = ["emergency", "inquiry", "complaint", "spam", None]
DESKS = ["emergency", "inquiry", "complaint", "operator"]
# (reasons, flags) as the call path stores them
REASONS = [([], {}), (["caller-id: withheld"], {"caller-id": "caller-id: withheld"}),
           (["keypad: 1", "classifier: emergency 0.93"], {}),
           (["robocall: same audio x12"], {"robocall": "robocall: same audio x12"}),
           (["spam-list: robocaller (added by op 17 on 2026-11-02)"],
            {"spam-list": "spam-list: robocaller (added by op 17 on 2026-11-02)"}),
           (["keypad: 5"], {"silent-caller": "keypad: 5"})]
QUERIES = {
    "unfiltered": "",
    "class": "class=complaint",
    "route": "route=operator",
    "class+route+page5": "class=inquiry&route=inquiry&page=5",
    "flag": "flag=robocall",
    "date-range": "from={day}&to={day}",
    "number-exact": "q=%2B{number}",
    "number-digits": "q={digits}",
}


def schema_url(base):
    """A fresh schema on BASE, so the benchmark never touches the app's or the tests' data."""
    from ivr.store import normalise_url
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(normalise_url(base))
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = normalise_url(base)
    return engine, schema, f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def fill(url, count, rng):
    """COUNT synthetic calls spread over the last 30 days (bulk insert in batches)."""
    from ivr.store.models import Call, utcnow
    engine, now, batch = create_engine(url), utcnow(), []
    with engine.begin() as conn:
        for i in range(count):
            created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
            label, (reasons, flags) = rng.choice(LABELS), rng.choice(REASONS)
            route = rng.choice(DESKS) if rng.random() < 0.6 else rng.choice(["reject", "blank", "hangup"])
            batch.append(dict(sid=f"CA{i:032x}", from_number=f"+9198{rng.randrange(10**8):08d}", to_number="+1",
                              created_at=created, updated_at=created, status="completed", utterance_open=False,
                              voice_seconds=1.0, transcript="there is a fire near the market please come " * 2,
                              turns=[{"at": 4.2, "text": "there is a fire near the market please come"},
                                     {"at": 9.8, "text": "there is a fire near the market please come"}],
                              partial_transcript="", label=label, confidence=0.9 if label else None,
                              digit=rng.choice(["1", "2", "3", None]), attempts=1, decision=route,
                              routed_early=False, risk=0.0, faults=[], reasons=reasons, flags=flags))
            if len(batch) == 5000:
                conn.execute(insert(Call), batch)
                batch = []
        if batch:
            conn.execute(insert(Call), batch)
        conn.execute(text("ANALYZE calls"))
        sample = conn.execute(text("SELECT from_number, created_at FROM calls ORDER BY random() LIMIT 1")).one()
    engine.dispose()
    return sample


class Session:
    """One persistent HTTP connection with the operator's session cookie."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            self.conn.close()                    # gunicorn closed an idle keep-alive connection: reconnect once
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        found = re.search(r"session=([^;]+)", response.getheader("Set-Cookie") or "")
        if found:
            self.cookie = f"session={found.group(1)}"
        return response.status, data

    def sign_in(self, name):
        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        form = urllib.parse.urlencode({"name": name, "password": PASSWORD, "csrf_token": token})
        status, _ = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, status


def timed(session, method, path, headers=None, expect=200):
    started = time.perf_counter()
    status, _ = session.request(method, path, headers=headers)
    elapsed = time.perf_counter() - started
    assert status == expect, (path, status)
    return elapsed


def measure(session, queries, rounds):
    """p50/p99 milliseconds of each page and API query, interleaved with the trivial baseline."""
    samples = {"trivial": []}
    for _ in range(rounds):
        samples["trivial"].append(timed(session, "POST", TRIVIAL_PATH))
        for name, query in queries.items():
            samples.setdefault(f"page {name}", []).append(timed(session, "GET", f"/?{query}"))
            samples.setdefault(f"api {name}", []).append(
                timed(session, "GET", f"/api/calls?{query}", {"X-API-Key": API_KEY}))
    return {name: {"p50_ms": round(percentile(v, 50) * 1000, 2), "p99_ms": round(percentile(v, 99) * 1000, 2)}
            for name, v in samples.items()}


CALL_PAGES = {"call page": "/calls/{sid}", "call api": "/api/calls/{sid}", "call export": "/calls/{sid}/export.json",
              "call print": "/calls/{sid}/print"}


def with_notes(url, count, rng):
    """COUNT random calls, each given three operators' notes (the call pages measured)."""
    from ivr.store.models import CallNote, utcnow
    engine = create_engine(url)
    with engine.begin() as conn:
        sids = list(conn.execute(text("SELECT sid FROM calls ORDER BY random() LIMIT :n"), {"n": count}).scalars())
        conn.execute(insert(CallNote), [dict(call_sid=sid, author=f"op {rng.choice(['asha', 'ravi'])}",
                                             created_at=utcnow(), body="caller's brother called back; PCR 12 sent " * 3)
                                        for sid in sids for _ in range(3)])
    engine.dispose()
    return sids


def measure_call_pages(session, sids, rounds):
    """p50/p99 milliseconds of one call's page, API record, export and print page, with the trivial baseline."""
    samples = {"trivial": []}
    for i in range(rounds):
        sid = sids[i % len(sids)]
        samples["trivial"].append(timed(session, "POST", TRIVIAL_PATH))
        for name, path in CALL_PAGES.items():
            samples.setdefault(name, []).append(timed(session, "GET", path.format(sid=sid), {"X-API-Key": API_KEY}))
    return {name: {"p50_ms": round(percentile(v, 50) * 1000, 2), "p99_ms": round(percentile(v, 99) * 1000, 2),
                   "ratio_p99_to_trivial": ratio(percentile(v, 99), percentile(samples["trivial"], 99))}
            for name, v in samples.items()}


def transcript_to_page(server_url, db_url, probes):
    """Seconds from calls.set_partial (the store function the media stream uses) to the text on an open page."""
    from playwright.sync_api import sync_playwright

    from ivr.store import Database, calls
    db = Database().configure(db_url)
    sid = "CAprobe" + uuid.uuid4().hex[:8]
    calls.open_call(db, sid, "+919800000000", "+1")
    delays = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(bypass_csp=True)     # lets Playwright evaluate its wait predicate
        page.goto(server_url + "/login")
        page.fill("input[name=name]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#live-state.on", timeout=30_000)
        for i in range(probes):
            words = f"probe {i} there is smoke"
            started = time.perf_counter()
            calls.set_partial(db, sid, words, 1.0)
            page.wait_for_function(
                f"(document.querySelector('#call-{sid} .partial') || {{}}).textContent === {json.dumps(words)}",
                polling="raf", timeout=10_000)
            delays.append(time.perf_counter() - started)
            time.sleep(random.uniform(0.05, 0.4))     # land at different points of the server's poll cycle
        browser.close()
    db.engine.dispose()
    return {"probes": probes, "p50_s": round(percentile(delays, 50), 3), "p99_s": round(percentile(delays, 99), 3),
            "max_s": round(max(delays), 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per query (bounded loop)")
    parser.add_argument("--probes", type=int, default=20)
    args = parser.parse_args(argv)
    admin, schema, url = schema_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    try:
        return run(args, url)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def run(args, url):
    from ivr.store import Database, operators
    rng = random.Random(7)
    make_database(url)
    started = time.perf_counter()
    number, created = fill(url, args.calls, rng)
    fill_seconds = time.perf_counter() - started
    sids = with_notes(url, 50, rng)
    day = created.strftime("%Y-%m-%d")
    queries = {name: q.format(day=day, number=number[1:], digits=number[-6:]) for name, q in QUERIES.items()}
    db = Database().configure(url)
    operators.create(db, "bench", PASSWORD, "admin")
    env = {"DATABASE_URL": url, "IVR_API_KEY": API_KEY, "SECRET_KEY": "bench-secret", "TWILIO_AUTH_TOKEN": TOKEN,
           "TWILIO_ACCOUNT_SID": ACCOUNT, "ASR_ENGINE": "pocketsphinx", "LOG_LEVEL": "WARNING"}
    with Gunicorn(env) as server:
        session = Session(server.port)
        session.sign_in("bench")
        measure(session, queries, 5)                         # warm caches and both workers' pools
        with_indexes = measure(session, queries, args.requests)
        measure_call_pages(session, sids, 10)                # warm-up
        call_pages = measure_call_pages(session, sids, args.requests)
        delay = transcript_to_page(server.url, url, args.probes)
        with db.engine.begin() as conn:
            for index in INDEXES:
                conn.execute(text(f"DROP INDEX {index}"))
            conn.execute(text("ANALYZE calls"))
        without = measure(session, {k: v for k, v in queries.items() if k in ("unfiltered", "class", "number-exact",
                                                                              "number-digits")},
                          max(args.requests // 4, 20))
    db.engine.dispose()
    figures = {"calls": args.calls, "fill_seconds": round(fill_seconds, 1), "requests_per_query": args.requests,
               "with_indexes": with_indexes, "without_indexes": {"dropped": list(INDEXES), **without},
               "p99_ratio_to_trivial": {name: ratio(v["p99_ms"], with_indexes["trivial"]["p99_ms"])
                                        for name, v in with_indexes.items()},
               "call_pages": call_pages, "transcript_to_page": delay}
    worst = max((v["p99_ms"], k) for k, v in with_indexes.items())
    emit(figures, f"{args.calls} calls: worst p99 {worst[0]} ms ({worst[1]}); call page p99 "
                  f"{call_pages['call page']['p99_ms']} ms (trivial {call_pages['trivial']['p99_ms']} ms); "
                  f"transcript to page p99 {delay['p99_s']} s, max {delay['max_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
