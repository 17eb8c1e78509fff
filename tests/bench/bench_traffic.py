"""A replay of a Dial-100 line's day through the real screening and policy code, with a simulated clock.

    .venv/bin/python -m tests.bench.bench_traffic [--segments 03:00-03:15,10:00-10:15,15:30-16:30] [--peak 10]

Traffic: a diurnal curve from 1 call/s at 04:00 to `--peak` calls/s at 16:00 (Poisson arrivals). 94 % of calls
are blank or auto-dialled (a pool of 20,000 phones that dial by themselves, 5 % of them withheld); the rest are
genuine people (emergency, inquiry, complaint, spam callers) with numbers of their own and audio of their own.
Attacks: a burst of 50 numbers in 5 s at 16:00:00 (the peak), and one recording from 200 numbers over the hour
from 15:30. Each arrival goes through ivr.call.flow.incoming with the simulated `now` (on code before arrivals
were recorded first: screen, then open_call, in that order, as incoming did); each blank call is claimed blank
and counted by ivr.screening.blank_policy.after_blank; each call with audio hands a fingerprint finding (synthetic
landmark hashes: the campaign's recording with 20 % of its hashes lost per call) to
ivr.screening.robocall.on_finding. The replayed segments are preceded by their last hour and by the same hours
of the day before, bulk-inserted, so the line has a history. SQLite file, built with the migrations.
"""
import argparse
import inspect
import math
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from tests.bench._common import emit, make_database, percentile  # noqa: E402

LINE = "+15005550100"
DAY = datetime(2026, 11, 21, tzinfo=timezone.utc)
BURST_AT, BURST_NUMBERS, BURST_SECONDS = DAY + timedelta(hours=16), 50, 5.0
CAMPAIGN_FROM, CAMPAIGN_NUMBERS, CAMPAIGN_SECONDS = DAY + timedelta(hours=15, minutes=30), 200, 3600.0
GENUINE_CLASSES = ("emergency", "inquiry", "complaint", "spam")


def rate(moment, peak):
    """Calls per second at MOMENT: 1/s at 04:00 rising to `peak` at 16:00."""
    hours = (moment - moment.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 3600
    return 1.0 + (peak - 1.0) * (1 - math.cos(2 * math.pi * (hours - 4) / 24)) / 2


def arrivals(start, end, peak, rng):
    """Poisson arrival times between START and END under the diurnal curve (thinning)."""
    out, moment = [], start
    while True:
        moment += timedelta(seconds=rng.expovariate(peak))
        if moment >= end:
            return out
        if rng.random() < rate(moment, peak) / peak:
            out.append(moment)


def ordinary(moment, rng, pool):
    """One ordinary call: (kind, number) with 94 % blank or auto-dialled."""
    if rng.random() < 0.94:
        return "blank", "anonymous" if rng.random() < 0.05 else rng.choice(pool)
    return rng.choice(GENUINE_CLASSES), f"+9199{rng.randrange(10 ** 8):08d}"


def schedule(segments, peak, rng, pool):
    """Every replayed arrival, in time order: (moment, kind, number, attack or None)."""
    calls = [(m, *ordinary(m, rng, pool), None) for start, end in segments for m in arrivals(start, end, peak, rng)]
    replayed = lambda moment: any(start <= moment < end for start, end in segments)  # noqa: E731
    calls += [(BURST_AT + timedelta(seconds=BURST_SECONDS * i / BURST_NUMBERS), "burst",
               f"+9188{rng.randrange(10 ** 8):08d}", "burst") for i in range(BURST_NUMBERS)]
    calls += [(CAMPAIGN_FROM + timedelta(seconds=rng.uniform(0, CAMPAIGN_SECONDS)), "campaign",
               f"+9177{rng.randrange(10 ** 8):08d}", "campaign") for _ in range(CAMPAIGN_NUMBERS)]
    return sorted((call for call in calls if replayed(call[0])), key=lambda call: call[0])


def history(db, segment, peak, rng, pool, tag):
    """The hour before a segment, and its hours the day before, bulk-inserted just before it is replayed (rows
    later than the simulated clock would count as arrivals in every window)."""
    from ivr.store.models import Call

    start, end = segment
    spans = [(start - timedelta(hours=1), start),
             (start - timedelta(days=1, hours=1), end - timedelta(days=1) + timedelta(hours=1))]
    rows = []
    for start, end in spans:
        for n, moment in enumerate(arrivals(start, end, peak, rng)):
            kind, number = ordinary(moment, rng, pool)
            rows.append({"sid": f"CAh{tag}{len(rows):09d}", "from_number": number, "to_number": LINE, "created_at": moment,
                         "status": "completed", "utterance_open": False, "voice_seconds": 0.0, "transcript": "",
                         "partial_transcript": "", "attempts": 0, "routed_early": False, "risk": 0.0, "faults": [],
                         "reasons": [], "flags": {}, "decision": "blank" if kind == "blank" else "operator",
                         "updated_at": moment})
    with db.engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(Call), rows[i:i + 5000])
    return len(rows)


class Recording:
    """Synthetic landmark hashes: one campaign recording, and a fresh one for every genuine caller."""

    def __init__(self, rng):
        self.rng = np.random.default_rng(rng.randrange(2 ** 32))
        self.campaign = self.fresh()

    def fresh(self):
        return np.stack([self.rng.integers(0, 2 ** 20, 400), np.sort(self.rng.integers(0, 310, 400))], 1).astype(np.uint32)

    def campaign_copy(self):
        return self.campaign[self.rng.random(len(self.campaign)) > 0.2]


def arrive(db, app, sid, number, moment, new_code):
    """One /voice arrival through the real code (today's flow.incoming, or the old order on the old code)."""
    from ivr.call import flow
    from ivr.screening import numbers as screening
    from ivr.store import calls, settings
    from ivr.store.models import Call

    if new_code:
        return flow.incoming(db, sid, number, LINE, "IN", "", app.config, moment)
    rules = screening.Rules.from_config(app.config, settings.overrides(db, app.config["SCREEN_SETTINGS_TTL"]))
    verdict = screening.screen(db, number, "IN", LINE, "", rules, moment)
    calls.open_call(db, sid, verdict.number, LINE, verdict.risk, verdict.reasons, verdict.flags, verdict.block_reason)
    with db.session() as session:
        session.execute(update(Call).where(Call.sid == sid).values(created_at=moment))
    return verdict


def after(db, app, index, audio, sid, kind, verdict, moment, new_code):
    """What follows the answer: a blank call ends blank and is counted; audio is fingerprinted."""
    from ivr.call import flow
    from ivr.screening import blank_policy, robocall
    from ivr.screening.machine_signs import Finding
    from ivr.triage.reconcile import Decision
    from ivr.vocabulary import Route

    if verdict.action == "reject":
        return
    if kind == "blank":
        flow.claim(db, sid, Decision(Route.BLANK, ("blank: replay",)), app.config)
        blank_policy.after_blank(db, sid, verdict.number, app.config, moment)
        return
    hashes = audio.campaign_copy() if kind == "campaign" else audio.fresh()
    finding = Finding("fingerprint", "fingerprint", 0.0, hashes)
    if new_code:
        robocall.on_finding(db, index, sid, finding, app.config, moment)
    else:
        robocall.on_finding(db, index, sid, finding)


def replay(db, app, plan, new_code, rng, segments, history_of):
    """Every arrival in time order, each segment after its history; returns outcomes and /voice step timings."""
    from ivr.screening.fingerprint import FingerprintIndex

    index, audio, out, timings, filled = FingerprintIndex(), Recording(rng), [], [], set()
    for n, (moment, kind, number, attack) in enumerate(plan):
        segment = next(i for i, (start, end) in enumerate(segments) if start <= moment < end)
        if segment not in filled:
            filled.add(segment)
            history_of(segment)
        sid = f"CAr{n:09d}"
        started = time.perf_counter()
        verdict = arrive(db, app, sid, number, moment, new_code)
        timings.append((time.perf_counter() - started) * 1000)
        after(db, app, index, audio, sid, kind, verdict, moment, new_code)
        out.append((moment, kind, attack, verdict.action))
    return out, timings


def alerts(db):
    from ivr.store.models import FloodAlert

    with db.reader() as session:
        rows = session.execute(select(FloodAlert)).scalars().all()
    return [(getattr(row, "kind", "flood"), row.created_at if row.created_at.tzinfo else
             row.created_at.replace(tzinfo=timezone.utc)) for row in rows]


def figures(outcomes, found, timings, segments, history_rows, seconds):
    genuine = [o for o in outcomes if o[1] in GENUINE_CLASSES]
    burst_end = BURST_AT + timedelta(seconds=BURST_SECONDS + 60)
    in_burst = lambda moment: BURST_AT <= moment < burst_end  # noqa: E731
    outside = [o for o in genuine if not in_burst(o[0])]
    flood_delay = [(at - BURST_AT).total_seconds() for kind, at in found if kind == "flood" and in_burst(at)]
    campaign_delay = [(at - CAMPAIGN_FROM).total_seconds() for kind, at in found if kind == "campaign"]
    expected = lambda kind, at: (kind == "flood" and in_burst(at)) or kind == "campaign"  # noqa: E731
    false = [(kind, at.isoformat()) for kind, at in found if not expected(kind, at)]
    hours = sum((end - start).total_seconds() for start, end in segments) / 3600
    return {
        "benchmark": "traffic_replay", "replayed_hours": round(hours, 2), "calls_replayed": len(outcomes),
        "history_calls": history_rows, "wall_seconds": round(seconds, 1),
        "genuine_callers": len(genuine),
        "genuine_ended_by_system": sum(o[3] == "reject" for o in genuine),
        "genuine_gated_outside_attacks": sum(o[3] == "gate" for o in outside),
        "genuine_gated_outside_attacks_pct": round(100 * sum(o[3] == "gate" for o in outside) / max(len(outside), 1), 2),
        "genuine_gated_during_burst": sum(o[3] == "gate" for o in genuine if in_burst(o[0])),
        "all_callers_gated": sum(o[3] == "gate" for o in outcomes),
        "burst_detection_seconds": min(flood_delay) if flood_delay else None,
        "campaign_detection_seconds": min(campaign_delay) if campaign_delay else None,
        "false_alerts": len(false), "false_alerts_per_day": round(len(false) * 24 / hours, 1) if hours else None,
        "false_alert_list": false[:10],
        "voice_step_ms": {"p50": round(percentile(timings, 50), 2), "p99": round(percentile(timings, 99), 2)},
    }


def parse_segments(text):
    out = []
    for part in text.split(","):
        start, end = (DAY + timedelta(hours=int(t[:2]), minutes=int(t[3:5])) for t in part.split("-"))
        out.append((start, end))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", default="03:00-03:15,10:00-10:15,15:30-16:30",
                        help="replayed stretches of the day, HH:MM-HH:MM, comma-separated")
    parser.add_argument("--peak", type=float, default=10.0, help="calls per second at 16:00")
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args(argv)
    from ivr import create_app
    from ivr.call import flow

    new_code = "now" in inspect.signature(flow.incoming).parameters
    segments, rng = parse_segments(args.segments), random.Random(args.seed)
    pool = [f"+9170{rng.randrange(10 ** 8):08d}" for _ in range(20_000)]
    with tempfile.TemporaryDirectory(prefix="ivr-bench-traffic-") as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        make_database(url)
        app = create_app({"DATABASE_URL": url, "ASR_ENGINE": "pocketsphinx", "LOG_LEVEL": "ERROR"})
        db = app.extensions["ivr.db"]
        plan, filled = schedule(segments, args.peak, rng, pool), []
        history_of = lambda i: filled.append(history(db, segments[i], args.peak, rng, pool, i))  # noqa: E731
        started = time.perf_counter()
        outcomes, timings = replay(db, app, plan, new_code, rng, segments, history_of)
        result = figures(outcomes, alerts(db), timings, segments, sum(filled), time.perf_counter() - started)
        result["code"] = "arrivals recorded first, line baseline" if new_code else "before (screen, then record)"
        db.dispose()
    emit(result, f"{result['code']}: genuine ended {result['genuine_ended_by_system']}, gated outside attacks "
                 f"{result['genuine_gated_outside_attacks_pct']} %, burst seen after {result['burst_detection_seconds']} s, "
                 f"campaign after {result['campaign_detection_seconds']} s, false alerts {result['false_alerts']} "
                 f"({result['false_alerts_per_day']}/day)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
