"""What screening reads about a caller and the dialled line before a call is answered: a few indexed lookups."""
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, or_, select

from ivr.store.models import Call, FloodAlert, NumberHold, SpamNumber
from ivr.vocabulary import AlertKind, Route

FINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
PREFIX_MARK = "*"     # a spam-list entry ending in * covers every number that starts with it


@dataclass(frozen=True)
class Facts:
    spam: object = None       # row: number, reason, added_by, created_at
    block: object = None      # row: kind, reason, expires_at
    watch: object = None
    calls_last_hour: int = 0
    line_callers: frozenset = frozenset()   # distinct caller numbers on the dialled line inside the flood window
    flood_alert: int | None = None          # the line's open flood alert, looked up only when it could matter
    flood_bar: tuple = (5, 3)               # distinct callers that start flood mode, and that keep it (open alert)
    baseline: float = 0.0                   # the line's normal calls per second (ivr.store.line_baseline)
    range_callers: frozenset = frozenset()  # numbers of the caller's range (all but the last digits) on the line


def spam_keys(number):
    """The exact number and every prefix entry that could cover it (`+91981*`, ...)."""
    return [number] + [number[:end] + PREFIX_MARK for end in range(2, len(number) + 1)]


_SPAM = select(SpamNumber.number, SpamNumber.reason, SpamNumber.added_by, SpamNumber.created_at).where(
    SpamNumber.number.in_(bindparam("keys", expanding=True)),
    or_(SpamNumber.expires_at.is_(None), SpamNumber.expires_at > bindparam("now")))
_HOLDS = select(NumberHold.kind, NumberHold.reason, NumberHold.expires_at).where(NumberHold.number == bindparam("number"), NumberHold.lifted_at.is_(None),
                                  NumberHold.expires_at > bindparam("now"))
_RECENT = select(func.count()).select_from(Call).where(Call.from_number == bindparam("number"),
                                                       Call.created_at >= bindparam("hour_ago"),
                                                       Call.sid != bindparam("sid"))
_LINE_CALLERS = select(Call.from_number).where(Call.to_number == bindparam("line"),
                                               Call.created_at >= bindparam("window_start")) \
    .distinct().limit(bindparam("most"))
_RANGE = select(Call.from_number).where(Call.from_number >= bindparam("low"), Call.from_number < bindparam("high"),
                                        Call.to_number == bindparam("line"), Call.created_at >= bindparam("since")) \
    .distinct().limit(bindparam("most"))
_OPEN_ALERT = select(FloodAlert.id).where(FloodAlert.line == bindparam("line"), FloodAlert.kind == AlertKind.FLOOD,
                                          FloodAlert.status != "closed",
                                          FloodAlert.created_at > bindparam("since")) \
    .order_by(FloodAlert.created_at.desc()).limit(1)


def gather(db, number, line, now, rules, flood_bar=(5, 3), sid="", range_prefix=None):
    """Everything screening needs to know about a caller and the dialled line: one connection, five indexed
    lookups (a sixth only on a line between the flood exit and entry counts), Core statements built once
    (building ORM queries per call cost more than running them). The caller's own call (`sid`) is already
    recorded: it counts on the line, not as a repeat of itself."""
    with db.read_engine.connect() as conn:
        spam = None
        if number.startswith("+"):
            entries = conn.execute(_SPAM, {"keys": spam_keys(number), "now": now})
            spam = max(entries, key=lambda entry: len(entry.number), default=None)   # the most specific entry
        holds = list(conn.execute(_HOLDS, {"number": number, "now": now}))
        recent = conn.execute(_RECENT, {"number": number, "hour_ago": now - timedelta(hours=1), "sid": sid}).scalar()
        callers = frozenset(conn.execute(_LINE_CALLERS, {
            "line": line, "window_start": now - timedelta(seconds=rules.flood_seconds),
            "most": flood_bar[0]}).scalars() if line else ())
        in_range = frozenset(conn.execute(_RANGE, {
            "low": range_prefix, "high": range_prefix + ":", "line": line, "most": rules.range_numbers,
            "since": now - timedelta(seconds=rules.range_seconds)}).scalars() if line and range_prefix else ())
        alert = None
        if line and flood_bar[1] <= len(callers | {number}) < flood_bar[0]:
            alert = conn.execute(_OPEN_ALERT, {"line": line, "since": now - timedelta(seconds=rules.flood_cooldown)}
                                 ).scalar()
        return Facts(spam, _first(holds, "block"), _first(holds, "watch"), recent, callers, alert, flood_bar,
                     range_callers=in_range)


def _first(holds, kind):
    return next((hold for hold in holds if hold.kind == kind), None)


def short_blank_calls(db, line, since, short_seconds):
    """Calls on LINE since SINCE that ended blank, or dropped undecided within `short_seconds`."""
    dropped = (Call.decision.is_(None) & Call.status.in_(FINAL_STATUSES) & (Call.duration <= short_seconds))
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(Call).where(
            Call.to_number == line, Call.created_at >= since, or_(Call.decision == Route.BLANK, dropped)))


def had_emergency(db, number, now, hours=24):
    """Did this number have a real emergency (emergency desk, or a silent caller's 5) in the last hours?"""
    with db.reader() as session:
        found = session.scalar(select(Call.id).where(
            Call.from_number == number, Call.created_at >= now - timedelta(hours=hours),
            or_(Call.decision == Route.EMERGENCY, Call.digit == "5")).limit(1))
        return found is not None
