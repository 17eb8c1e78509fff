"""Call floods judged against the line's own normal rate; a burst of simultaneous callers is always seen."""
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, update

from conftest import call_params, sign
from ivr.call import flow
from ivr.screening.numbers import Rules, screen
from ivr.screening.thresholds import above_normal, flood_bar
from ivr.store import calls, floods, line_baseline
from ivr.store.models import Call

LINE = "+15005550001"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def caller(i):
    """The i-th of many unrelated callers (no two share a number range)."""
    return f"+9198{i:03d}45678"


def _age_calls(db, sids, seconds):
    with db.session() as session:
        session.execute(update(Call).where(Call.sid.in_(sids))
                        .values(created_at=datetime.now(timezone.utc) - timedelta(seconds=seconds)))


def history(db, line, end, per_second, seconds, tag):
    """Calls from distinct numbers at a steady rate over `seconds` before `end` (bulk, like past traffic)."""
    count = int(per_second * seconds)
    with db.engine.begin() as conn:
        conn.execute(insert(Call), [{
            "sid": f"CA{tag}{n:07d}", "from_number": f"+9197{n % 100000:05d}{n // 100000:03d}00", "to_number": line,
            "created_at": end - timedelta(seconds=seconds * (n + 1) / count), "status": "completed",
            "utterance_open": False, "voice_seconds": 0.0, "transcript": "", "partial_transcript": "", "attempts": 0,
            "routed_early": False, "risk": 0.0, "faults": [], "reasons": [], "flags": {}} for n in range(count)])


def test_the_bar_is_far_above_normal_and_never_below_the_floor():
    assert above_normal(5, 0.0, 1.0, 5.0) == 5                 # a new line: the floor
    assert above_normal(5, 50.0, 1.0, 5.0) == 86               # 10 calls/s in 5 s: 50 +- 7 by chance
    assert flood_bar(Rules(), 0.0) == (5, 3)
    assert flood_bar(Rules(), 10.0) == (86, 65)                # hysteresis: back to about normal ends it


def test_flood_of_distinct_callers_gates_the_line_and_raises_one_alert(db):
    now = datetime.now(timezone.utc)
    for i in range(4):
        calls.open_call(db, f"CA-f{i}", caller(i), LINE)
    verdict = screen(db, caller(99), to=LINE, now=now)
    assert verdict.action == "gate" and "flood" in verdict.flags and verdict.risk == 0.0
    assert verdict.reasons == (f"flood: 5 distinct callers on {LINE} within 5 s (flood at 5; normal 0.0)",
                               "gate: line in flood mode")
    assert screen(db, caller(99), to=LINE, now=now).action == "gate"
    assert [(a.line, a.kind, a.callers, a.status) for a in floods.alerts(db)] == [(LINE, "flood", 5, "new")]
    assert screen(db, caller(99), to="+15005550002", now=now).action == "answer"


def test_flood_mode_ends_when_the_rate_falls(db):
    for i in range(6):
        calls.open_call(db, f"CA-g{i}", caller(i), LINE)
    later = datetime.now(timezone.utc) + timedelta(seconds=6)
    assert screen(db, caller(99), to=LINE, now=later).action == "answer"


def test_flood_mode_lasts_while_the_alert_is_open_until_fewer_than_the_exit_count_remain(db):
    now = datetime.now(timezone.utc)
    for i in range(4):
        calls.open_call(db, f"CA-k{i}", caller(i), LINE)
    assert screen(db, caller(99), to=LINE, now=now).action == "gate"              # 5 callers: flood, alert
    [alert] = floods.alerts(db)
    _age_calls(db, ["CA-k0", "CA-k1"], seconds=10)                                 # the rate falls to 3 ...
    held = screen(db, caller(98), to=LINE, now=now)
    assert held.action == "gate"                                                   # ... above the exit count
    assert held.reasons[0] == (f"flood: 3 distinct callers on {LINE} within 5 s (flood at 5; normal 0.0), "
                               f"alert {alert.id} still open")
    assert len(floods.alerts(db)) == 1                                             # no second alert for it
    _age_calls(db, ["CA-k2"], seconds=10)
    assert screen(db, caller(97), to=LINE, now=now).action == "answer"            # 2 left: below the exit count


def test_closing_the_alert_ends_flood_mode_and_a_line_without_one_needs_the_full_count(db):
    now = datetime.now(timezone.utc)
    for i in range(4):
        calls.open_call(db, f"CA-m{i}", caller(i), LINE)
    assert screen(db, caller(99), to=LINE, now=now).action == "gate"
    _age_calls(db, ["CA-m0", "CA-m1"], seconds=10)
    [alert] = floods.alerts(db)
    floods.move(db, alert.id, "closed", "handled with the carrier", "op 5")
    assert screen(db, caller(98), to=LINE, now=now).action == "answer"
    assert screen(db, caller(98), to="+15005550002", now=now).action == "answer"


def test_callers_arriving_at_the_same_instant_raise_the_alert_every_time(app, db):
    """Six callers (the floor is 5) hit /voice at once through the test client: the last to count sees all six.
    Before arrivals were recorded first, each counted the calls table before the others' rows were committed."""
    for attempt in range(5):
        line = f"+1500555{attempt + 10:04d}"
        barrier, answers = threading.Barrier(6), []

        def ring(i):
            params = call_params(From=caller(10 * attempt + i), To=line)
            client = app.test_client()
            barrier.wait()
            answers.append(client.post("/voice", data=params, headers={"X-Twilio-Signature": sign(
                "http://localhost/voice", params)}))

        threads = [threading.Thread(target=ring, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(answer.status_code == 200 for answer in answers)
        assert [alert.line for alert in floods.alerts(db) if alert.line == line] == [line], f"burst {attempt}"
        assert any(b"voice/gate" in answer.data for answer in answers)


def test_a_busy_line_at_its_normal_rate_is_never_gated(app, db):
    """10 calls/s all day (a state Dial-100 line): 50 distinct callers in 5 s is its normal, not a flood."""
    history(db, LINE, NOW, 10.0, 3600, "h")                                # the last hour
    history(db, LINE, NOW - timedelta(days=1, minutes=-30), 10.0, 3600, "y")  # this hour yesterday
    actions = [flow.incoming(db, f"CA-busy{i}", caller(i), LINE, "IN", "", app.config,
                             NOW + timedelta(seconds=i / 10)).action for i in range(60)]
    assert actions == ["answer"] * 60 and floods.alerts(db) == []


def test_a_flood_on_a_busy_line_is_judged_against_its_normal(app, db):
    """On that line, 50 extra numbers in 5 s on top of its 10 calls/s is a flood, seen within seconds."""
    history(db, LINE, NOW, 10.0, 3600, "h")
    actions = [flow.incoming(db, f"CA-x{i}", caller(i), LINE, "IN", "", app.config,
                             NOW + timedelta(seconds=i / 20)).action for i in range(100)]
    first_gate = actions.index("gate")
    assert 60 <= first_gate < 100 and [alert.kind for alert in floods.alerts(db)] == ["flood"]


def test_a_new_line_uses_the_floor_and_operators_can_raise_it(app, db, runner):
    from ivr.store import settings
    actions = [flow.incoming(db, f"CA-n{i}", caller(i), LINE, "IN", "", app.config, NOW).action for i in range(5)]
    assert actions == ["answer"] * 4 + ["gate"]
    assert runner.invoke(args=["floods", "set", "--callers", "8", "--factor", "2", "--sigmas", "6"]).exit_code == 0
    assert settings.overrides(db, 0)["SCREEN_FLOOD_FACTOR"] == 2.0
    actions = [flow.incoming(db, f"CA-o{i}", caller(i), "+15005550002", "IN", "", app.config, NOW).action
               for i in range(8)]
    assert actions == ["answer"] * 7 + ["gate"]


def test_the_baseline_is_cached_per_line_and_skips_the_window_being_judged(db):
    history(db, LINE, NOW, 1.0, 3600, "c")
    assert line_baseline.rate(db, LINE, NOW, 5.0, 7, ttl=60) == pytest.approx(1.0, abs=0.01)
    history(db, LINE, NOW - timedelta(seconds=5), 10.0, 600, "d")                 # ten more per second
    assert line_baseline.rate(db, LINE, NOW + timedelta(seconds=30), 5.0, 7, ttl=60) == pytest.approx(1.0, abs=0.01)
    assert line_baseline.rate(db, LINE, NOW + timedelta(seconds=61), 5.0, 7, ttl=60) > 9.0
    assert line_baseline.rate(db, "+15005550002", NOW, 5.0, 7, ttl=60) == 0.0
