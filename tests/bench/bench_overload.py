"""Beyond recognition capacity: 50 simultaneous simulated callers for 60 s against the production server, bin/serve.

    .venv/bin/python -m tests.bench.bench_overload [--callers 50] [--seconds 60] [--slots N] [--database-url URL]

Runs the app under bin/serve (the Procfile's web: process: nginx, the web pool and the media pool at their default
sizes; recognition slots as configured, by default three quarters of the measured calls per core times the cores)
with Twilio's REST API stood in for locally. First the baseline: lone
signed /voice requests on the idle server (each closed by its status callback). Then CALLERS threads each place
simulated calls back to back (ivr.tools.simulate: signed webhooks, a real-time Media Stream of a fixture, keys) until
SECONDS have passed, so CALLERS calls are in progress all along. Every caller has a number of its own and calls one
of many lines, so the run measures capacity, not the flood gate. Afterwards every call is read back from the
database: stored, decided, closed; a caller who pressed a key reached that key's desk (or the operator, where the
rules say so); recognised and shed calls are counted from /metrics.
"""
import argparse
import re
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._common import (ACCOUNT, FIXTURES, SECRET, TOKEN, Served, emit, make_database, percentile,  # noqa: E402
                                 ratio)

API_KEY = "bench-api-key-" + "k" * 30
DESKS = {"1": "+15005550101", "2": "+15005550102", "3": "+15005550103", "5": "+15005550100"}
OPERATOR = DESKS["5"]
# (audio, key): the keys a caller presses, and a silent caller who presses nothing (a blank call)
PROFILES = [("emergency_knife", "1"), ("inquiry_passport", "2"), ("complaint_noise", "3"), ("emergency_fire", "1"),
            (None, "5"), ("spam_prize", "2"), (None, "")]
BASELINE_REQUESTS = 30
DRAIN_SECONDS = 40.0
BURST_SECONDS = 5.0      # the first callers' answers (all CALLERS at once, while every worker warms up)


def timed_call_class():
    """ivr.tools.simulate.SimulatedCall that also times its answer: POST /voice until the TwiML is in hand."""
    from ivr.tools.simulate import SimulatedCall

    class TimedCall(SimulatedCall):
        def post(self, url, extra):
            if not url.endswith("/voice"):
                return super().post(url, extra)
            started = self.outcome["answered_at"] = time.monotonic()
            document = super().post(url, extra)
            self.outcome["answer_seconds"] = time.monotonic() - started
            self.outcome["answer_verbs"] = [verb.tag for verb in document] if document is not None else []
            return document

    return TimedCall


def caller(index, server_url, stand_in, end_at, outcomes, lock):
    """One caller thread: calls back to back until END_AT, each a profile, a number and a line of its own."""
    from ivr.tools.simulate import caller_audio, parse_args

    timed, n = timed_call_class(), 0
    while time.monotonic() < end_at:
        audio, key = PROFILES[(index + n) % len(PROFILES)]
        argv = ["--url", server_url, "--auth-token", TOKEN, "--account-sid", ACCOUNT,
                "--from", f"+9198{index:03d}{n:05d}", "--to", f"+1500555{index % 40:04d}"]
        argv += ["--wav", str(FIXTURES / f"{audio}.wav")] if audio else ["--silence"]
        argv += ["--digit", key] if key else []
        sim_args = parse_args(argv)
        try:
            outcome = timed(sim_args, caller_audio(sim_args), stand_in).run()
        except Exception as error:  # noqa: BLE001 - a crashed caller is a result, not a crash of the benchmark
            outcome = {"errors": [f"simulator crashed: {error!r}"], "call_sid": None}
        outcome["key"] = key
        with lock:
            outcomes.append(outcome)
        n += 1


def baseline(server_url):
    """Seconds per lone signed /voice on the idle server (each call then closed, freeing its reserved slot)."""
    from twilio.request_validator import RequestValidator

    validator, seconds = RequestValidator(TOKEN), []
    for i in range(BASELINE_REQUESTS):
        sid = f"CAbaseline{i:022d}"
        for path, extra in (("/voice", {}), ("/voice/status", {"CallStatus": "completed", "CallDuration": "1"})):
            params = {"CallSid": sid, "AccountSid": ACCOUNT, "From": f"+9197{i:08d}", "To": "+15005559999",
                      "CallStatus": "ringing", "Direction": "inbound", **extra}
            url = server_url + path
            request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), method="POST",
                                             headers={"X-Twilio-Signature": validator.compute_signature(url, params)})
            started = time.monotonic()
            with urllib.request.urlopen(request, timeout=15) as response:
                response.read()
            if path == "/voice":
                seconds.append(time.monotonic() - started)
    return seconds


def shed_counts(server_url):
    """ivr_recognition_shed_total by stage, summed over the workers (/metrics)."""
    request = urllib.request.Request(server_url + "/metrics", headers={"X-API-Key": API_KEY})
    with urllib.request.urlopen(request, timeout=15) as response:
        text = response.read().decode()
    counts = {"answer": 0, "start": 0, "lag": 0}
    for line in text.splitlines():
        if line.startswith("ivr_recognition_shed_total{"):
            stage = line.split('stage="', 1)[1].split('"', 1)[0]
            counts[stage] = int(float(line.rsplit(" ", 1)[1]))
    return counts


def stored_calls(database_url, sids):
    from sqlalchemy import select

    from ivr.store import Database
    from ivr.store.models import Call

    db = Database().configure(database_url)
    with db.session() as session:
        rows = {call.sid: call for call in session.scalars(select(Call).where(Call.sid.in_(sids)))}
        session.expunge_all()
    db.dispose()
    return rows


def judge(outcome, call):
    """Why this call is not OK (None when it is): stored, decided, closed, and a key reached its desk."""
    if outcome.get("errors"):
        return "simulator: " + "; ".join(outcome["errors"])[:160]
    if call is None:
        return "lost: not in the database"
    if call.decision is None:
        return "stored without a decision"
    if call.status != "completed":
        return f"not closed (status {call.status})"
    key, shed = outcome["key"], "speech-shed" in (call.flags or {})
    if key and call.decision in ("blank", "reject", "hangup"):
        return f"dropped: pressed {key}, ended {call.decision}"
    if key and outcome.get("route_target") != DESKS[key]:
        # words recognised (before a shed, too) may send the call to the operator (words and key disagree) or to
        # the emergency desk (early route); a call with no words goes where its key says
        if (shed and not call.transcript) or outcome.get("route_target") not in (OPERATOR, DESKS["1"]):
            return (f"pressed {key} ({'shed' if shed else 'recognised'}), dialled {outcome.get('route_target')}: "
                    + "; ".join(call.reasons or [])[-160:])
    return None


def drain(server, timeout=DRAIN_SECONDS):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if sum(server.connections().values()) == 0:
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)
    return None


def load(args, server, stand_in):
    """CALLERS threads for SECONDS; returns (outcomes, wall seconds, server cores, driver cores, peak streams)."""
    outcomes, lock = [], threading.Lock()
    before, driver_before, started = server.cpu_seconds(), time.process_time(), time.monotonic()
    end_at = started + args.seconds
    threads = [threading.Thread(target=caller, args=(i, server.url, stand_in, end_at, outcomes, lock),
                                daemon=True) for i in range(args.callers)]
    for thread in threads:
        thread.start()
        time.sleep(0.01)     # all within half a second: simultaneous as far as Twilio's answer goes
    peak = 0
    while any(thread.is_alive() for thread in threads) and time.monotonic() < end_at + 120:
        peak = max(peak, sum(server.connections().values()))
        elapsed = time.monotonic() - started
        if int(elapsed) % 10 == 0:
            sys.stderr.write(f"  {elapsed:4.0f} s: {len(outcomes)} calls finished, {peak} connections at peak\n")
        time.sleep(1.0)
    wall = time.monotonic() - started
    after = server.cpu_seconds()
    cores = sum(after[pid] - before.get(pid, 0.0) for pid in after) / wall
    return outcomes, started, wall, round(cores, 2), round((time.process_time() - driver_before) / wall, 2), peak


def run(args):
    from ivr.tools.simulate import ApiStandIn

    stand_in = ApiStandIn(0, ACCOUNT, TOKEN)
    try:
        with tempfile.TemporaryDirectory(prefix="ivr-bench-overload-") as tmp:
            database_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
            make_database(database_url)
            env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
                   "SECRET_KEY": SECRET, "IVR_API_KEY": API_KEY, "TWILIO_API_BASE": f"http://127.0.0.1:{stand_in.port}",
                   "ASR_ENGINE": "pocketsphinx", "PUBLIC_URL": "", "IVR_RECOGNITION_SLOTS_DIR": f"{tmp}/slots"}
            if args.slots is not None:
                env["IVR_RECOGNITION_SLOTS"] = str(args.slots)
            with Served(env) as server:
                sys.stderr.write("baseline: lone /voice requests on the idle server\n")
                idle = baseline(server.url)
                sys.stderr.write(f"load: {args.callers} callers for {args.seconds:g} s\n")
                outcomes, started, wall, cores, driver, peak = load(args, server, stand_in)
                drained = drain(server)
                shed = shed_counts(server.url)
                log_problems = server.log_problems()
                slots = slots_in_force(server)
                errors = server_errors(server)
            rows = stored_calls(database_url, [o["call_sid"] for o in outcomes if o.get("call_sid")])
    finally:
        stand_in.close()
    return idle, outcomes, started, rows, shed, {"wall_seconds": round(wall, 1), "server_cores": cores,
                                        "driver_cores": driver, "peak_open_connections": peak,
                                        "drain_seconds_after_last_call": drained, "slots": slots,
                                        "server_errors": errors[0], "server_error_kinds": errors[1],
                                        "server_log_problems": log_problems[0],
                                        "last_server_log_problems": log_problems[1]}


def server_errors(server, keep=10):
    """ERROR lines in the server's log: how many, and the distinct messages and exceptions (call ids left out)."""
    lines = server.log_path.read_text(errors="replace").splitlines()
    found = [line.split(" ERROR ", 1)[1] for line in lines if " ERROR " in line]
    raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Timeout)\b", line)]
    distinct = sorted({re.sub(r"CA[0-9a-f]{32}", "CA…", line)[:200] for line in found + raised})
    return len(found), distinct[:keep]


def slots_in_force(server):
    """The slot count the workers logged at start-up."""
    for line in server.log_path.read_text(errors="replace").splitlines():
        if "recognition slots: " in line:
            return int(line.split("recognition slots: ", 1)[1].split()[0])
    return None


def summarise(idle, outcomes, rows, shed, started):
    answers = [o["answer_seconds"] for o in outcomes if "answer_seconds" in o]
    burst = [o["answer_seconds"] for o in outcomes if o.get("answered_at", 0) - started < BURST_SECONDS]
    problems = [why for o in outcomes if (why := judge(o, rows.get(o.get("call_sid"))))]
    shed_calls = sum("speech-shed" in (call.flags or {}) for call in rows.values())
    keyed = [o for o in outcomes if o["key"]]
    return {
        "calls_placed": len(outcomes), "calls_stored": len(rows),
        "calls_decided": sum(call.decision is not None for call in rows.values()),
        "records_lost": sum(1 for o in outcomes if o.get("call_sid") and o["call_sid"] not in rows),
        "genuine_callers_dropped": sum(1 for o in keyed if (c := rows.get(o.get("call_sid"))) is not None
                                       and c.decision in ("blank", "reject", "hangup")),
        "answer_p50_ms": round(percentile(answers, 50) * 1000, 1), "answer_p99_ms": round(percentile(answers, 99) * 1000, 1),
        "answer_max_ms": round(max(answers, default=float("nan")) * 1000, 1),
        "answers_over_1s": sum(a > 1.0 for a in answers),
        "answers_over_1s_share": ratio(sum(a > 1.0 for a in answers), len(answers)),
        "answers_over_1s_in_first_burst": sum(a > 1.0 for a in burst),
        "answer_p99_ms_after_first_burst": round(percentile(
            [o["answer_seconds"] for o in outcomes if o.get("answered_at", 0) - started >= BURST_SECONDS], 99) * 1000, 1),
        "idle_answer_p50_ms": round(percentile(idle, 50) * 1000, 1),
        "idle_answer_p99_ms": round(percentile(idle, 99) * 1000, 1),
        "ratio_answer_p50_to_idle": ratio(percentile(answers, 50), percentile(idle, 50)),
        "ratio_answer_p99_to_idle": ratio(percentile(answers, 99), percentile(idle, 99)),
        "answered_keypad_only": sum(o.get("answer_verbs") == ["Start", "Gather", "Redirect"] for o in outcomes),
        "recognised_calls": len(rows) - shed_calls, "shed_calls": shed_calls,
        "shed_share": ratio(shed_calls, len(rows)), "shed_by_stage": shed,
        "decisions": {d: sum(c.decision == d for c in rows.values()) for d in sorted({c.decision or "none"
                                                                                     for c in rows.values()})},
        "problems": len(problems), "problem_examples": sorted(set(problems))[:6],
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=50, help="simulated calls in progress at once")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long callers keep placing calls")
    parser.add_argument("--slots", type=int, help="IVR_RECOGNITION_SLOTS (default: the app's own default)")
    parser.add_argument("--database-url", help="run on this (empty) PostgreSQL database instead of a SQLite file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    idle, outcomes, started, rows, shed, run_figures = run(args)
    figures = {"benchmark": "overload", "server": "bin/serve (production settings)", "engine": "pocketsphinx",
               "callers": args.callers, "seconds": args.seconds, **run_figures, **summarise(idle, outcomes, rows, shed, started)}
    emit(figures, f"{figures['calls_placed']} calls, {figures['slots']} slots: /voice p50 {figures['answer_p50_ms']} ms,"
                  f" p99 {figures['answer_p99_ms']} ms ({figures['answers_over_1s']} over 1 s; idle p99 "
                  f"{figures['idle_answer_p99_ms']} ms); recognised {figures['recognised_calls']}, shed "
                  f"{figures['shed_calls']} {figures['shed_by_stage']}; lost {figures['records_lost']}, dropped "
                  f"{figures['genuine_callers_dropped']}, problems {figures['problems']}")
    return 1 if figures["problems"] or figures["records_lost"] or figures["genuine_callers_dropped"] else 0


if __name__ == "__main__":
    sys.exit(main())
