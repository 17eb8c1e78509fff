"""How many simultaneous calls this machine transcribes while keeping up with real time.

    .venv/bin/python -m tests.bench.bench_capacity [--ks 2,4,6,8,10,12] [--max-cores 1.8]

Runs the app under gunicorn (gunicorn.conf.py, as the Procfile runs it) with Twilio's REST API
stood in for locally, then places K simultaneous simulated calls at real-time speed (ivr.tools.simulate: signed
webhooks, a Media Stream of the inquiry fixture, keypad 2) for growing K, and stops at the first K that
falls behind. CPU comes from /proc (gunicorn master + workers) over the wall time of each run.
"""
import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._common import (ACCOUNT, FIXTURES, SECRET, TOKEN, Gunicorn, emit, make_database, percentile,  # noqa: E402
                                 ratio)

WAV = FIXTURES / "inquiry_passport.wav"
DIGIT = "2"
EXPECTED_TARGET = "+15005550102"    # ROUTE_INQUIRY's default
LISTEN_SECONDS = 4
RUN_TIMEOUT_SECONDS = 90.0
SAMPLE_EVERY_SECONDS = 0.5
DRAIN_TIMEOUT_SECONDS = 30.0
TOTAL_BUDGET_SECONDS = 170.0


class CpuSampler(threading.Thread):
    """Samples gunicorn's CPU counters, for the busiest one-second window of a run."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.samples, self.done = server, [], threading.Event()
        self.peak_connections = {}

    def run(self):
        while not self.done.wait(SAMPLE_EVERY_SECONDS if self.samples else 0):
            self.samples.append((time.monotonic(), sum(self.server.cpu_seconds().values())))
            for pid, count in self.server.connections().items():
                self.peak_connections[pid] = max(count, self.peak_connections.get(pid, 0))

    def peak_cores(self, window=1.0):
        best = 0.0
        for i, (t0, c0) in enumerate(self.samples):
            for t1, c1 in self.samples[i + 1:]:
                if t1 - t0 >= window:
                    best = max(best, (c1 - c0) / (t1 - t0))
                    break
        return round(best, 2)


def place_calls(k, url, stand_in):
    """K simulated calls at once, each in its own thread; returns their outcomes (None for a hung call)."""
    from ivr.tools.simulate import parse_args, simulate

    argv = ["--wav", str(WAV), "--digit", DIGIT, "--url", url, "--auth-token", TOKEN, "--account-sid", ACCOUNT]
    outcomes = [None] * k

    def one(i):
        try:
            outcomes[i] = simulate(parse_args(argv), stand_in=stand_in)
        except Exception as error:  # noqa: BLE001 - a crashed caller is a result, not a crash of the benchmark
            outcomes[i] = {"errors": [f"simulator crashed: {error!r}"], "call_sid": None}

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(k)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0))
    return outcomes


def drain(server, timeout=DRAIN_TIMEOUT_SECONDS):
    """Seconds after the last caller hung up until the app closed every connection, i.e. finished
    transcribing the audio it had been sent (None when it did not within the timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if sum(server.connections().values()) == 0:
            return round(time.monotonic() - started, 2)
        time.sleep(0.1)
    return None


def stored_calls(database_url, sids):
    from sqlalchemy import select

    from ivr.store import Database
    from ivr.store.models import Call

    db = Database().configure(database_url)
    with db.session() as session:
        rows = {call.sid: call for call in session.scalars(select(Call).where(Call.sid.in_([s for s in sids if s])))}
    db.dispose()
    return rows


def judge(outcome, call):
    """Why this call is not OK (None when it is): routed right, no errors, a transcript stored, no faults."""
    if outcome is None:
        return "call did not finish in time"
    if outcome.get("errors"):
        return "; ".join(outcome["errors"])[:200]
    if call is None:
        return "call not in the database"
    if outcome.get("route_target") != EXPECTED_TARGET:
        return f"routed to {outcome.get('route_target')!r}, expected {EXPECTED_TARGET}"
    if not (call.transcript or "").strip():
        return "empty transcript"
    if call.faults:
        return "faults: " + "; ".join(call.faults)[:200]
    return None


def run_k(k, server, stand_in, database_url):
    before, driver_before = server.cpu_seconds(), time.process_time()
    sampler = CpuSampler(server)
    sampler.start()
    started = time.monotonic()
    outcomes = place_calls(k, server.url, stand_in)
    drained = drain(server)
    wall = time.monotonic() - started
    sampler.done.set()
    sampler.join(timeout=5)
    after, driver_cpu = server.cpu_seconds(), time.process_time() - driver_before
    per_pid = {pid: round(after[pid] - before.get(pid, 0.0), 2) for pid in after}
    rows = stored_calls(database_url, [o.get("call_sid") for o in outcomes if o])
    problems, decision_seconds, classified = [], [], 0
    for outcome in outcomes:
        call = rows.get(outcome.get("call_sid")) if outcome else None
        why = judge(outcome, call)
        if why:
            problems.append(why)
        if call is not None and call.decided_at is not None:
            decision_seconds.append((call.decided_at - call.created_at).total_seconds())
            classified += any(r.startswith("classifier: ") and r != "classifier: no speech" for r in call.reasons)
    cores = sum(per_pid.values()) / wall
    if drained is None:
        problems.append(f"streams still open {DRAIN_TIMEOUT_SECONDS:.0f} s after the calls ended")
    return {"k": k, "wall_seconds": round(wall, 1), "drain_seconds_after_hangup": drained,
            "cores_used": round(cores, 2), "peak_cores_1s": sampler.peak_cores(),
            "cpu_seconds_per_process": sorted(per_pid.values(), reverse=True),
            "peak_open_connections_per_worker": sorted(sampler.peak_connections.values(), reverse=True),
            "driver_cores": round(driver_cpu / wall, 2), "calls_ok": k - len(problems) + (drained is None),
            "classified_before_keypad_decision": classified,
            "decision_seconds_p50": round(percentile(decision_seconds, 50), 2),
            "decision_seconds_max": round(max(decision_seconds, default=float("nan")), 2),
            "problems": sorted(set(problems))[:5]}


def run(args):
    from ivr.tools.simulate import ApiStandIn

    results, stopped_because = [], "all K values ran"
    budget_end = time.monotonic() + TOTAL_BUDGET_SECONDS
    stand_in = ApiStandIn(0, ACCOUNT, TOKEN)
    try:
        with tempfile.TemporaryDirectory(prefix="ivr-bench-capacity-") as tmp:
            database_url = f"sqlite:///{tmp}/bench.sqlite3"
            make_database(database_url)
            env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
                   "SECRET_KEY": SECRET,
                   "TWILIO_API_BASE": f"http://127.0.0.1:{stand_in.port}", "ASR_ENGINE": "pocketsphinx",
                   "IVR_LISTEN_SECONDS": str(LISTEN_SECONDS), "PUBLIC_URL": ""}
            with Gunicorn(env) as server:
                for k in args.ks:
                    if time.monotonic() + RUN_TIMEOUT_SECONDS / 4 > budget_end:
                        stopped_because = f"time budget ({TOTAL_BUDGET_SECONDS:.0f} s) before K={k}"
                        break
                    result = run_k(k, server, stand_in, database_url)
                    # The brief's test: CPU to spare and every call transcribed and routed right in the end.
                    result["kept_up_by_cpu_and_transcripts"] = (
                        result["calls_ok"] == k and result["cores_used"] < args.max_cores
                        and result["drain_seconds_after_hangup"] is not None)
                    # Real time also means the transcript was there when the keypad step decided the call.
                    result["all_classified_in_time"] = result["classified_before_keypad_decision"] == k
                    result["kept_up"] = result["kept_up_by_cpu_and_transcripts"] and result["all_classified_in_time"]
                    results.append(result)
                    sys.stderr.write(progress_line(result))
                    if not result["kept_up"] and not args.no_stop:
                        stopped_because = f"K={k} fell behind"
                        break
                log_problems = server.log_problems()
    finally:
        stand_in.close()
    return results, stopped_because, {"server_log_problems": log_problems[0],
                                      "last_server_log_problems": log_problems[1]}


def progress_line(r):
    return (f"K={r['k']}: {r['calls_ok']}/{r['k']} calls OK, {r['cores_used']} cores (peak {r['peak_cores_1s']}), "
            f"open connections per worker {r['peak_open_connections_per_worker']}, "
            f"{r['classified_before_keypad_decision']}/{r['k']} classified before the keypad decision, "
            f"decided after {r['decision_seconds_p50']} s p50\n")


def _largest(results, key):
    """The largest K for which that K and every smaller one passed."""
    largest = 0
    for result in results:
        if not result[key]:
            break
        largest = result["k"]
    return largest


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=lambda s: [int(k) for k in s.split(",")], default=[2, 4, 6, 8, 10, 12])
    parser.add_argument("--max-cores", type=float, default=1.8, help="CPU (of the 2 cores) a K may use and keep up")
    parser.add_argument("--no-stop", action="store_true", help="run every K even after one fell behind")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    results, stopped_because, server_log = run(args)
    base = results[0] if results else None
    for result in results:
        result["decision_seconds_ratio_to_first_k"] = ratio(result["decision_seconds_p50"],
                                                            base["decision_seconds_p50"])
        result["cores_per_call"] = round(result["cores_used"] / result["k"], 3)
    kept = _largest(results, "kept_up")
    by_cpu = _largest(results, "kept_up_by_cpu_and_transcripts")
    figures = {"benchmark": "simultaneous_call_capacity", "server": "gunicorn.conf.py (production settings)",
               "engine": "pocketsphinx", "caller_audio": WAV.name, "digit": DIGIT, "listen_seconds": LISTEN_SECONDS,
               "max_cores": args.max_cores, "runs": results, "largest_k_kept_up": kept,
               "largest_k_by_cpu_and_transcripts_only": by_cpu,
               "stopped_because": stopped_because, **server_log}
    emit(figures, f"largest K that kept up (transcript in time for the keypad decision, CPU < {args.max_cores}): "
                  f"{kept}; by CPU and final transcripts alone: {by_cpu}; {stopped_because}")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
