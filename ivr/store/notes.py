"""Operators' notes on a call: written with an audit entry, read oldest first."""
from sqlalchemy import select

from ivr.store import audit
from ivr.store.models import Call, CallNote

MAX_NOTE_CHARS = 2000


def add_note(db, sid, body, actor, operator_id=None):
    """Add BODY (already checked) as ACTOR's note on call SID; None for an unknown call."""
    with db.session() as session:
        if session.scalar(select(Call.id).where(Call.sid == sid)) is None:
            return None
        note = CallNote(call_sid=sid, author=actor[:64], operator_id=operator_id, body=body[:MAX_NOTE_CHARS])
        session.add(note)
        audit.record(session, actor, "call.note", sid, None, {"note": note.body}, operator_id)
        session.flush()
        return note


def notes_for(db, sid, limit=500):
    """The call's notes, oldest first (at most LIMIT)."""
    query = select(CallNote).where(CallNote.call_sid == sid).order_by(CallNote.created_at, CallNote.id).limit(limit)
    with db.reader() as session:
        return list(session.scalars(query))
