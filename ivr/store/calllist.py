"""Control-room reads on calls: the filtered, paginated list, live changes, and the hourly chart counts."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, cast, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ivr.store.models import Call, reversed_digits, utcnow

# Flags are read from the decision and the reasons, so flags added by later screening appear here too.
FLAG_PATTERNS = {
    "blank": ("blank:", "flag: silent-caller"),
    "spoof": ("caller-id:", "stir:", "spoof"),
    "robocall": ("robocall",),
    "flood": ("flood",),
    "spam-list": ("spam-list:",),
}


DEPARTMENTS = ("emergency", "inquiry", "complaint", "operator")
ENDINGS = ("reject", "blank", "hangup")      # decisions that send the call nowhere
ROUTES = DEPARTMENTS + ENDINGS
CHANGES_BATCH = 200


@dataclass(frozen=True)
class CallFilter:
    """What the operator asked to see; validated by the web layer before it gets here."""
    label: str | None = None
    route: str | None = None
    flag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    number: str | None = None          # E.164 for an exact match, else the digits the number ends with
    exact_number: bool = False
    page: int = 1
    per_page: int = 50


class position(FunctionElement):
    """Where NEEDLE starts in HAYSTACK, 0 if absent: strpos() on PostgreSQL, instr() on SQLite.

    The flag filter tests substrings of the reasons. Written as LIKE '%…%', PostgreSQL's planner guesses that
    almost no call matches, and it sorts a full scan of the table: 81 ms at 100,000 calls. Flags are common
    on an emergency line, where most traffic is blank or machine calls. For a function compared with 0 the
    planner guesses a third of the rows match, so it walks the created_at index newest first and stops at the
    page's end (0.7 ms)."""
    type = Integer()
    inherit_cache = True


@compiles(position, "postgresql")
def _position_postgresql(element, compiler, **kw):
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(position)
def _position_default(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)})"


def _where(query, wanted):
    if wanted.label:
        query = query.where(Call.label == wanted.label)
    if wanted.route in DEPARTMENTS:
        query = query.where(Call.department == wanted.route)
    elif wanted.route:
        query = query.where(Call.decision == wanted.route)
    if wanted.flag == "fault":
        query = query.where(cast(Call.faults, String) != "[]")
    elif wanted.flag:
        texts = [cast(column, String) for column in (Call.reasons, Call.audio_reasons, Call.flags)]
        query = query.where(or_(*(position(text, pattern) > 0 for pattern in FLAG_PATTERNS[wanted.flag]
                                  for text in texts)))
    if wanted.since:
        query = query.where(Call.created_at >= wanted.since)
    if wanted.until:
        query = query.where(Call.created_at < wanted.until)
    if wanted.number and wanted.exact_number:
        query = query.where(Call.from_number == wanted.number)
    elif wanted.number:     # the number ends with these digits: a prefix of the reversed digits, indexed
        query = query.where(Call.from_digits_reversed.like(f"{reversed_digits(wanted.number)}%"))
    return query


def page_of_calls(db, wanted):
    """One page of calls, newest first, and whether another page follows (no COUNT: it is slow at scale)."""
    query = _where(select(Call), wanted).order_by(Call.created_at.desc(), Call.id.desc())
    query = query.offset((wanted.page - 1) * wanted.per_page).limit(wanted.per_page + 1)
    with db.reader() as session:
        rows = list(session.scalars(query))
    return rows[:wanted.per_page], len(rows) > wanted.per_page


def matching(db, wanted, ids):
    """Which of these call ids pass the filter (the live page keeps only those; the same WHERE as the list)."""
    if not ids:
        return set()
    with db.reader() as session:
        return set(session.scalars(_where(select(Call.id), wanted).where(Call.id.in_(ids))))


def changed_since(db, moment, limit=CHANGES_BATCH):
    """Calls changed at or after MOMENT, oldest change first (the live page's poll; uses ix_calls_updated_at)."""
    query = select(Call).where(Call.updated_at >= moment).order_by(Call.updated_at, Call.id).limit(limit)
    with db.reader() as session:
        return list(session.scalars(query))


def latest_change(db):
    """The newest updated_at, or now when there are no calls yet."""
    query = select(Call.updated_at).order_by(Call.updated_at.desc()).limit(1)
    with db.reader() as session:
        return session.scalar(query) or utcnow()


def since_hours(db, hours=24):
    """(created_at, label, decision, reasons) of the calls in the last HOURS hours, for the charts."""
    start = utcnow() - timedelta(hours=hours)
    query = select(Call.created_at, Call.label, Call.decision, Call.reasons).where(Call.created_at >= start)
    with db.reader() as session:
        return [tuple(row) for row in session.execute(query)]


def flags(call):
    """The flags a call carries, each with the reason that raised it."""
    found, texts = [], list(call.reasons or []) + list(call.audio_reasons or [])
    for flag, patterns in FLAG_PATTERNS.items():
        reason = next((r for r in texts if any(p in r for p in patterns)), None)
        if reason is None and flag in (call.flags or []):
            reason = f"screening: {flag}"
        if reason is not None:
            found.append((flag, reason))
    for flag in call.flags or []:     # screening's own flags (gate, watch, tone, talk-over, ...)
        if all(flag != known for known, _ in found) and flag not in FLAG_PATTERNS:
            reason = next((r for r in texts if flag.split("-")[0] in r), f"screening: {flag}")
            found.append((flag, reason))
    if call.decision == "blank" and not any(flag == "blank" for flag, _ in found):
        found.append(("blank", "blank: no speech and no key"))
    if call.faults:
        found.append(("fault", "; ".join(call.faults)))
    return found


def counts_by_class_route(db):
    """(class, route, decision, calls) over all calls, for /metrics; exact across processes."""
    query = select(Call.label, Call.department, Call.decision, func.count()).group_by(
        Call.label, Call.department, Call.decision)
    with db.reader() as session:
        return [tuple(row) for row in session.execute(query)]


def count_with_faults(db):
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(Call).where(cast(Call.faults, String) != "[]"))
