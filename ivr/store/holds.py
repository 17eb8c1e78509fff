"""Blank-call counters and policy holds (watch-list, temporary blocks) on caller numbers."""
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ivr.store.models import BlankCount, NumberHold


def count_blank(db, number, now):
    """Add one blank call to today's (UTC) counter for the number; returns today's count."""
    day = now.date()
    for _ in range(3):     # two processes may create today's row at once: the loser updates it instead
        try:
            with db.session() as session:
                updated = session.execute(update(BlankCount).where(BlankCount.number == number, BlankCount.day == day)
                                          .values(blank_calls=BlankCount.blank_calls + 1)).rowcount
                if not updated:
                    session.add(BlankCount(number=number, day=day, blank_calls=1))
            break
        except IntegrityError:
            continue
    return blank_count(db, number, now)


def blank_count(db, number, now):
    with db.reader() as session:
        return session.scalar(select(BlankCount.blank_calls).where(
            BlankCount.number == number, BlankCount.day == now.date())) or 0


def active(db, number, kind, now):
    """The number's active hold of this kind, or None."""
    with db.reader() as session:
        return session.scalar(select(NumberHold).where(
            NumberHold.number == number, NumberHold.kind == kind, NumberHold.lifted_at.is_(None),
            NumberHold.expires_at > now).order_by(NumberHold.expires_at.desc()).limit(1))


def place(db, number, kind, reason, now, hours):
    """Put a hold on a number unless one of that kind is already active; returns the active hold."""
    existing = active(db, number, kind, now)
    if existing is not None:
        return existing
    with db.session() as session:
        hold = NumberHold(number=number, kind=kind, reason=reason[:300], created_at=now,
                          expires_at=now + timedelta(hours=hours))
        session.add(hold)
        return hold


def active_holds(db, now):
    """Every hold in force, blocks first, newest first."""
    with db.reader() as session:
        return list(session.scalars(select(NumberHold).where(
            NumberHold.lifted_at.is_(None), NumberHold.expires_at > now)
            .order_by(NumberHold.kind, NumberHold.created_at.desc())))
