import pytest

from ivr.screening.numbers import normalise_number, screen
from ivr.store import actions


@pytest.mark.parametrize("raw, expected", [
    ("+15005550006", "+15005550006"),
    ("+1 (500) 555-0006", "+15005550006"),
    ("09812345678", "+919812345678"),
    ("98123 45678", "+919812345678"),
    ("anonymous", None),
    ("", None),
    (None, None),
    ("12", None),
    ("+" + "9" * 10000, None),
])
def test_normalise_number(raw, expected):
    assert normalise_number(raw, "IN") == expected


def test_spam_listed_number_is_rejected_with_its_reason(db):
    actions.add_spam(db, "+15005550006", "robocaller", "op 17")
    verdict = screen(db, "+1 500 555 0006")
    assert verdict.action == "reject"
    assert verdict.reasons[0].startswith("spam-list: robocaller (added by op 17 on ")


@pytest.mark.parametrize("raw, reason", [("anonymous", "caller-id: withheld"), ("", "caller-id: withheld"),
                                         ("Unknown", "caller-id: withheld"),
                                         ("+99912345", "caller-id: not a valid number")])
def test_risky_callers_are_answered_with_reasons(db, raw, reason):
    verdict = screen(db, raw)
    assert verdict.action == "answer"
    assert verdict.reasons == (reason,)
    assert verdict.risk == pytest.approx(0.3)


def test_ordinary_caller_has_no_risk(db):
    verdict = screen(db, "+919812345678")
    assert (verdict.action, verdict.risk, verdict.reasons, verdict.number) == ("answer", 0.0, (), "+919812345678")


from datetime import datetime, timedelta, timezone  # noqa: E402

from ivr.screening.numbers import Rules  # noqa: E402
from ivr.store import calls, floods, holds  # noqa: E402

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
LINE = "+15005550001"


@pytest.mark.parametrize("raw", ["anonymous", "+", "9" * 40, "abcdef", "sip:alice@example.org",
                                 "sip:+919812345678@pbx.example.org;user=phone", "", None, "<script>", "+1" * 5000,
                                 "Restricted", "\u0967\u0968\u0969", "  +91 98123 45678  "])
def test_odd_caller_ids_are_classified_never_crash(db, raw):
    verdict = screen(db, raw, to=LINE)
    assert verdict.action in ("answer", "gate") and 0.0 <= verdict.risk <= 1.0
    assert len(verdict.number) <= 64


def test_sip_uri_with_a_number_is_normalised():
    assert normalise_number("sip:+919812345678@pbx.example.org;user=phone") == "+919812345678"


def test_spam_range_entry_rejects_every_number_in_it(db):
    actions.add_spam(db, "+1500555*", "robocall range", "op 3")
    verdict = screen(db, "+15005550099")
    assert verdict.action == "reject" and tuple(verdict.flags) == ("spam-list",)
    assert verdict.reasons[0].endswith("[range +1500555*]") and verdict.block_reason == verdict.reasons[0]
    assert screen(db, "+15005560099").action == "answer"


def test_most_specific_spam_entry_wins(db):
    actions.add_spam(db, "+1500555*", "range", "test")
    actions.add_spam(db, "+15005550099", "this one", "test")
    assert screen(db, "+15005550099").reasons[0].startswith("spam-list: this one")


@pytest.mark.parametrize("raw, to, reason", [
    ("+15005550001", LINE, "spoof: caller ID is our own line +15005550001"),
    ("+15005550100", "+15005550009", "spoof: caller ID is our own line +15005550100"),
    ("112", LINE, "spoof: caller ID is the emergency short code 112"),
    ("100", LINE, "spoof: caller ID is the emergency short code 100"),
])
def test_caller_id_of_our_own_line_or_a_short_code_is_a_spoof_risk(db, raw, to, reason):
    rules = Rules(own_numbers=frozenset({"+15005550100"}))
    verdict = screen(db, raw, to=to, rules=rules)
    assert reason in verdict.reasons and "spoof-risk" in verdict.flags
    assert verdict.action == "gate" and verdict.risk >= 0.5


@pytest.mark.parametrize("stir, risk, reasons", [
    ("TN-Validation-Failed-A", 0.4, ("stir: TN-Validation-Failed-A",)),
    ("TN-Validation-Passed-A", 0.0, ()),
    ("No-TN-Validation", 0.1, ("stir: No-TN-Validation",)),
    ("", 0.0, ()),
])
def test_stir_verstat(db, stir, risk, reasons):
    verdict = screen(db, "+919812345678", stir=stir)
    assert verdict.risk == pytest.approx(risk) and verdict.reasons == reasons and verdict.action == "answer"


def test_premium_rate_number_is_risky(db):
    verdict = screen(db, "+19005551234", region="US")
    assert "number-type: premium rate" in verdict.reasons


def test_withheld_caller_with_failed_attestation_meets_the_gate_not_a_rejection(db):
    verdict = screen(db, "anonymous", to=LINE, stir="TN-Validation-Failed-C")
    assert verdict.action == "gate" and verdict.risk == pytest.approx(0.7)
    assert verdict.reasons[-1] == "gate: risk 0.70" and "gate" in verdict.flags


def test_repeated_calls_within_the_hour_raise_risk(db):
    for i in range(4):
        calls.open_call(db, f"CA-r{i}", "+919812345678", LINE)
    verdict = screen(db, "+919812345678", to="+15005550002")
    assert verdict.reasons == ("repeat: call 5 from this number within the hour",)
    assert verdict.risk == pytest.approx(0.3) and tuple(verdict.flags) == ("repeat-caller",)


def test_watch_listed_number_has_more_risk_and_blocked_number_is_gated_never_rejected(db):
    holds.place(db, "+919812345678", "watch", "4 blank calls on 2026-11-21", NOW, 24)
    watched = screen(db, "+919812345678", now=NOW)
    assert watched.reasons == ("watch-list: 4 blank calls on 2026-11-21",) and watched.action == "answer"
    holds.place(db, "+919812345678", "block", "10 blank calls on 2026-11-21", NOW, 24)
    blocked = screen(db, "+919812345678", now=NOW)
    assert blocked.action == "gate" and tuple(blocked.flags) == ("blocked", "watch-list", "gate")
    assert blocked.flags["blocked"] == "policy-block: 10 blank calls on 2026-11-21 (until 2026-11-22 12:00 UTC)"
    assert blocked.block_reason is None
    assert screen(db, "+919812345678", now=NOW + timedelta(hours=25)).action == "answer"


def test_flood_of_distinct_callers_gates_the_line_and_raises_one_alert(db):
    now = datetime.now(timezone.utc)
    for i in range(4):
        calls.open_call(db, f"CA-f{i}", f"+9198123456{i:02d}", LINE)
    verdict = screen(db, "+919812345699", to=LINE, now=now)
    assert verdict.action == "gate" and "flood" in verdict.flags and verdict.risk == 0.0
    assert verdict.reasons == (f"flood: 5 distinct callers on {LINE} within 5 s", "gate: line in flood mode")
    assert screen(db, "+919812345699", to=LINE, now=now).action == "gate"
    assert [(a.line, a.callers, a.status) for a in floods.alerts(db)] == [(LINE, 5, "new")]
    assert screen(db, "+919812345699", to="+15005550002", now=now).action == "answer"


def test_flood_mode_ends_when_the_rate_falls(db):
    for i in range(6):
        calls.open_call(db, f"CA-g{i}", f"+9198123456{i:02d}", LINE)
    later = datetime.now(timezone.utc) + timedelta(seconds=6)
    assert screen(db, "+919812345699", to=LINE, now=later).action == "answer"


def _age_calls(db, sids, seconds):
    from sqlalchemy import update

    from ivr.store.models import Call
    with db.session() as session:
        session.execute(update(Call).where(Call.sid.in_(sids))
                        .values(created_at=datetime.now(timezone.utc) - timedelta(seconds=seconds)))


def test_flood_mode_lasts_while_the_alert_is_open_until_fewer_than_the_exit_count_remain(db):
    now = datetime.now(timezone.utc)
    for i in range(4):
        calls.open_call(db, f"CA-k{i}", f"+9198123456{i:02d}", LINE)
    assert screen(db, "+919812345699", to=LINE, now=now).action == "gate"          # 5 callers: flood, alert
    [alert] = floods.alerts(db)
    _age_calls(db, ["CA-k0", "CA-k1"], seconds=10)                                 # the rate falls to 3 ...
    held = screen(db, "+919812345698", to=LINE, now=now)
    assert held.action == "gate"                                                   # ... above the exit count
    assert held.reasons[0] == f"flood: 3 distinct callers on {LINE} within 5 s, alert {alert.id} still open"
    assert len(floods.alerts(db)) == 1                                             # no second alert for it
    _age_calls(db, ["CA-k2"], seconds=10)
    assert screen(db, "+919812345697", to=LINE, now=now).action == "answer"       # 2 left: below the exit count


def test_closing_the_alert_ends_flood_mode_and_a_line_without_one_needs_the_full_count(db):
    now = datetime.now(timezone.utc)
    for i in range(4):
        calls.open_call(db, f"CA-m{i}", f"+9198123456{i:02d}", LINE)
    assert screen(db, "+919812345699", to=LINE, now=now).action == "gate"
    _age_calls(db, ["CA-m0", "CA-m1"], seconds=10)
    [alert] = floods.alerts(db)
    floods.move(db, alert.id, "closed", "handled with the carrier", "op 5")
    assert screen(db, "+919812345698", to=LINE, now=now).action == "answer"
    assert screen(db, "+919812345698", to="+15005550002", now=now).action == "answer"


def test_one_caller_many_times_is_not_a_flood(db):
    for i in range(8):
        calls.open_call(db, f"CA-h{i}", "+919812345600", LINE)
    verdict = screen(db, "+919812345600", to=LINE)
    assert "flood" not in verdict.flags
