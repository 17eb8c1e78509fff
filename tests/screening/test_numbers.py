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
from ivr.store import calls, holds  # noqa: E402

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


def test_one_caller_many_times_is_not_a_flood(db):
    for i in range(8):
        calls.open_call(db, f"CA-h{i}", "+919812345600", LINE)
    verdict = screen(db, "+919812345600", to=LINE)
    assert "flood" not in verdict.flags
