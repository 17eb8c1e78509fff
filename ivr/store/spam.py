"""Queries on the spam list."""
from sqlalchemy import delete, select

from ivr.store import upsert
from ivr.store.models import SpamNumber


def find(db, number):
    with db.reader() as session:
        return session.scalar(select(SpamNumber).where(SpamNumber.number == number))


def add(db, number, reason, added_by="", source="cli"):
    """Add or update a number; returns the stored entry."""
    values = {"reason": reason, "added_by": added_by, "source": source}
    with db.session() as session:
        session.execute(upsert(session, SpamNumber).values(number=number, **values)
                        .on_conflict_do_update(index_elements=[SpamNumber.number], set_=values))
        return session.scalar(select(SpamNumber).where(SpamNumber.number == number))


def remove(db, number):
    with db.session() as session:
        return session.execute(delete(SpamNumber).where(SpamNumber.number == number)).rowcount > 0


def all_entries(db):
    with db.reader() as session:
        return list(session.scalars(select(SpamNumber).order_by(SpamNumber.created_at)))


def search(db, text="", page=1, per_page=100):
    """Entries whose number or reason contains TEXT, newest first; one extra row tells if more follow."""
    query = select(SpamNumber).order_by(SpamNumber.created_at.desc(), SpamNumber.id.desc())
    if text:
        pattern = f"%{text}%"
        query = query.where(SpamNumber.number.like(pattern) | SpamNumber.reason.like(pattern))
    with db.session() as session:
        return list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
