"""Hold-queue benchmark: from the operator's no-answer to the waiting caller being taken by an operator.

    .venv/bin/python -m tests.bench.bench_queue [--calls 20] [--poll 0.05] [--speed 10]

The app runs under gunicorn (production settings, SQLite). Each simulated call presses 1 in silence, so it is
decided for the emergency desk; the desk's dial ends `busy`, the operator's `busy`, and the caller is put in the
hold queue (`<Enqueue>`), whose wait URL the simulator fetches. An operator thread polls `GET /api/queue` every
`--poll` seconds and takes every waiting caller with `POST /api/queue/next`; the simulator then receives the
live-call update (the REST stand-in) and dials the operator, who answers.

Figures: `held_to_taken` = the operator's no-answer posted to `/voice/dialled` → the live update reaching the
caller (enqueue webhook, wait URL, the operator's poll, the atomic take, the REST update). The baseline, measured
on the same calls, is `handover`: the desk's no-answer posted → the operator's `<Dial>` TwiML in hand (one
webhook round trip, what a busy desk cost before the queue). `desk_to_taken` adds the operator's ring.
"""
import argparse
import json
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._common import ACCOUNT, TOKEN, Gunicorn, emit, make_database, percentile, ratio  # noqa: E402

API_KEY = "b" * 40


class Operator(threading.Thread):
    """An operator at the Waiting page: takes every waiting caller as soon as a poll shows one."""

    def __init__(self, url, poll):
        super().__init__(daemon=True)
        self.url, self.poll, self.stop, self.taken, self.errors = url, poll, threading.Event(), 0, []

    def _api(self, method, path):
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None,
                                         headers={"X-API-Key": API_KEY})
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.load(response)

    def run(self):
        while not self.stop.wait(self.poll):
            try:
                for _ in self._api("GET", "/api/queue")["waiting"]:
                    self._api("POST", "/api/queue/next")
                    self.taken += 1
            except OSError as error:      # 404 when another take emptied the queue first
                self.errors.append(str(error))


def run_calls(calls, poll, speed):
    from ivr.tools import simulate

    stand_in = simulate.ApiStandIn(0, ACCOUNT, TOKEN)
    outcomes, lock = [], threading.Lock()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        make_database(database_url)
        env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
               "TWILIO_API_BASE": f"http://127.0.0.1:{stand_in.port}", "ASR_ENGINE": "pocketsphinx",
               "IVR_API_KEY": API_KEY, "IVR_QUEUE_PAUSE_SECONDS": "10", "LOG_LEVEL": "WARNING"}
        try:
            with Gunicorn(env) as server:
                operator = Operator(server.url, poll)
                operator.start()

                def place(n):
                    args = simulate.parse_args(["--url", server.url, "--auth-token", TOKEN, "--account-sid", ACCOUNT,
                                                "--silence", "--digit", "1", "--speed", str(speed),
                                                "--from", f"+9198123{n:05d}", "--dial-status", "busy,busy,completed"])
                    outcome = simulate.simulate(args, stand_in=stand_in)
                    with lock:
                        outcomes.append(outcome)

                for start in range(0, calls, 2):      # two calls at a time, staggered
                    threads = [threading.Thread(target=place, args=(n,)) for n in range(start, min(start + 2, calls))]
                    for thread in threads:
                        thread.start()
                        time.sleep(0.5)
                    for thread in threads:
                        thread.join(timeout=120)
                operator.stop.set()
                operator.join(timeout=10)
        finally:
            stand_in.close()
    return outcomes, operator


def figures_of(outcomes, operator, calls, poll):
    taken = [o for o in outcomes if "taken_after_seconds" in o and len(o["dials"]) == 3]
    held = [o["taken_after_seconds"] - o["dials"][1]["ended_after_seconds"] for o in taken]
    desk = [o["taken_after_seconds"] - o["dials"][0]["ended_after_seconds"] for o in taken]
    handover = [o["dials"][0]["answered_after_seconds"] - o["dials"][0]["ended_after_seconds"] for o in taken]

    def stats(values):
        return {"median_ms": round(percentile(values, 50) * 1000, 1), "p90_ms": round(percentile(values, 90) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1) if values else None}
    return {"benchmark": "queue", "calls": calls, "poll_seconds": poll, "taken": len(taken),
            "dialled_operator_after_taken": sum(o["result"] == "dialled" and o["route_target"] == "+15005550100"
                                                for o in taken),
            "errors": [e for o in outcomes for e in o["errors"]], "operator_errors": operator.errors[:5],
            "held_to_taken": stats(held), "desk_to_taken": stats(desk), "handover_baseline": stats(handover),
            "ratio_median_held_to_taken_over_handover": ratio(percentile(held, 50), percentile(handover, 50))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between the operator's queue polls")
    parser.add_argument("--speed", type=float, default=10.0, help="simulated time runs this much faster")
    args = parser.parse_args(argv)
    outcomes, operator = run_calls(args.calls, args.poll, args.speed)
    figures = figures_of(outcomes, operator, args.calls, args.poll)
    h, b = figures["held_to_taken"], figures["handover_baseline"]
    emit(figures, f"operator's no-answer to caller taken: median {h['median_ms']} ms, p90 {h['p90_ms']} ms over "
                  f"{figures['taken']}/{args.calls} calls; baseline handover median {b['median_ms']} ms, p90 "
                  f"{b['p90_ms']} ms (x{figures['ratio_median_held_to_taken_over_handover']})")
    return 0 if figures["taken"] == args.calls and not figures["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
