"""Campaign signs that do not depend on volume: one recording from many numbers, a range of numbers, blank bursts.
They raise alerts and flags; they never reject or hang up a call."""
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ivr.call import flow
from ivr.screening import blank_policy, robocall
from ivr.screening.fingerprint import FingerprintIndex
from ivr.screening.machine_signs import Finding
from ivr.store import calls, floods

LINE = "+15005550001"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def hashes(seed):
    """A synthetic recording's landmark hashes (what the fingerprinter would give for one recording)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, 2 ** 20, 300), np.sort(rng.integers(0, 300, 300))], axis=1).astype(np.uint32)


def play(db, index, app, sid, number, seed, at):
    calls.open_call(db, sid, number, LINE, created_at=at)
    finding = Finding("fingerprint", "fingerprint", 0.0, hashes(seed))
    return robocall.on_finding(db, index, sid, finding, app.config, at)


def test_one_recording_from_many_numbers_within_the_window_is_a_campaign(app, db):
    index = FingerprintIndex()
    for i in range(4):                                   # SCREEN_CAMPAIGN_NUMBERS is 5
        play(db, index, app, f"CA-p{i}", f"+9198{i:03d}45678", 7, NOW + timedelta(minutes=10 * i))
    play(db, index, app, "CA-q", "+919899945678", 8, NOW + timedelta(minutes=41))   # another recording
    assert floods.alerts(db) == []
    stored = play(db, index, app, "CA-p4", "+919800445678", 7, NOW + timedelta(minutes=50))
    [alert] = floods.alerts(db)
    assert (alert.kind, alert.line, alert.callers) == ("campaign", LINE, 5) and "CA-p0" in alert.detail
    assert "robocall" in stored.flags and stored.decision is None


def test_a_campaign_threshold_changed_at_run_time_is_applied(app, db):
    from ivr.store import settings
    settings.put(db, "SCREEN_CAMPAIGN_NUMBERS", 3.0, "op asha")     # `floods set`, the Settings page, the API
    index = FingerprintIndex()
    for i in range(3):
        play(db, index, app, f"CA-r{i}", f"+9198{i:03d}45678", 7, NOW + timedelta(minutes=i))
    [alert] = floods.alerts(db)
    assert (alert.kind, alert.callers) == ("campaign", 3)


def test_a_recording_spread_wider_than_the_window_is_no_campaign(app, db):
    index = FingerprintIndex()
    for i in range(5):
        play(db, index, app, f"CA-s{i}", f"+9198{i:03d}45678", 7, NOW + timedelta(minutes=20 * i))
    assert floods.alerts(db) == []


def test_numbers_from_one_range_are_flagged_and_alerted_but_answered(app, db):
    actions = [flow.incoming(db, f"CA-r{i}", f"+9198765432{i:02d}", LINE, "IN", "", app.config,
                             NOW + timedelta(seconds=10 * i)) for i in range(4)]
    assert [v.action for v in actions] == ["answer"] * 4
    assert ["number-range" in v.flags for v in actions] == [False, False, False, True]
    assert actions[3].flags["number-range"] == f"number-range: 4 numbers +9198765432xx called {LINE} within 60 s"
    assert actions[3].risk == pytest.approx(0.2)
    assert [alert.kind for alert in floods.alerts(db)] == ["number-range"]
    late = flow.incoming(db, "CA-r9", "+919876543299", LINE, "IN", "", app.config, NOW + timedelta(seconds=200))
    assert "number-range" not in late.flags


def blank_call(db, app, sid, number, at, line=LINE):
    call = calls.open_call(db, sid, number, line, created_at=at)
    flow.claim(db, sid, flow.Decision(flow.Route.BLANK, ("blank: test",)), app.config)
    return blank_policy.after_blank(db, sid, call.from_number, app.config, at)


def test_a_burst_of_blank_calls_on_a_line_raises_an_alert(app, db):
    for i in range(9):                                    # SCREEN_BLANK_BURST_CALLS is 10
        blank_call(db, app, f"CA-b{i}", f"+9198{i:03d}45678", NOW + timedelta(seconds=5 * i))
    assert floods.alerts(db) == []
    blank_call(db, app, "CA-b9", "anonymous", NOW + timedelta(seconds=50))
    [alert] = floods.alerts(db)
    assert (alert.kind, alert.callers) == ("blank-burst", 10)


def test_blank_calls_spread_out_are_no_burst(app, db):
    for i in range(12):
        blank_call(db, app, f"CA-c{i}", f"+9198{i:03d}45678", NOW + timedelta(seconds=30 * i))
    assert floods.alerts(db) == []
