"""Control-room reads on calls: the filtered, paginated list, live changes, and the hourly chart counts."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, cast, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ivr.store import board
from ivr.store.models import Call, reversed_digits, utcnow
from ivr.vocabulary import Flag

FAULT = "fault"       # a filter, not a flag: calls whose faults list is not empty
FILTER_FLAGS = tuple(Flag) + (FAULT,)
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
    line: str | None = None            # the dialled line (To), exactly: an alert's calls
    finished: bool = False             # only calls the live board does not pin (ivr.store.board.finished)
    page: int = 1
    per_page: int = 50


class position(FunctionElement):
    """Where NEEDLE starts in HAYSTACK, 0 if absent: strpos() on PostgreSQL, instr() on SQLite.

    The flag filter looks for the flag's key in the stored flags (`"robocall":` in `{"robocall": "…"}`; a
    quote inside a reason is stored escaped, so a reason cannot fake a key). Written as LIKE '%…%', PostgreSQL's planner guesses that
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
    if wanted.route:
        query = query.where(Call.decision == wanted.route)
    if wanted.flag == FAULT:
        query = query.where(cast(Call.faults, String) != "[]")
    elif wanted.flag:
        query = query.where(position(cast(Call.flags, String), f'"{wanted.flag}":') > 0)
    if wanted.since:
        query = query.where(Call.created_at >= wanted.since)
    if wanted.until:
        query = query.where(Call.created_at < wanted.until)
    if wanted.finished:
        query = query.where(board.finished())
    if wanted.line:           # ix_calls_to_number_created_at
        query = query.where(Call.to_number == wanted.line)
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
    """(created_at, label, decision) of the calls in the last HOURS hours, for the charts."""
    start = utcnow() - timedelta(hours=hours)
    query = select(Call.created_at, Call.label, Call.decision).where(Call.created_at >= start)
    with db.reader() as session:
        return [tuple(row) for row in session.execute(query)]


def flags(call):
    """The flags a call carries, each with the reason that raised it; faults last."""
    found = list((call.flags or {}).items())
    if call.faults:
        found.append((FAULT, "; ".join(call.faults)))
    return found


def counts_by_class_route(db):
    """(class, route, calls) over all calls, for /metrics; exact across processes."""
    query = select(Call.label, Call.decision, func.count()).group_by(Call.label, Call.decision)
    with db.reader() as session:
        return [tuple(row) for row in session.execute(query)]


def count_with_faults(db):
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(Call).where(cast(Call.faults, String) != "[]"))
