"""Queries on the spam list."""
from sqlalchemy import select

from ivr.store.models import SpamNumber


def all_entries(db):
    with db.reader() as session:
        return list(session.scalars(select(SpamNumber).order_by(SpamNumber.created_at)))


def search(db, text="", page=1, per_page=100):
    """Entries whose number or reason contains TEXT, newest first; one extra row tells if more follow."""
    query = select(SpamNumber).order_by(SpamNumber.created_at.desc(), SpamNumber.id.desc())
    if text:
        pattern = f"%{text}%"
        query = query.where(SpamNumber.number.like(pattern) | SpamNumber.reason.like(pattern))
    with db.reader() as session:
        return list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
