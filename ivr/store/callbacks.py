"""The callback desk's queue: callers to ring back, with every attempt and its outcome."""
from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError

from ivr.store import audit
from ivr.store.models import Callback, utcnow
from ivr.vocabulary import Priority

FINISHING_OUTCOMES = {"reached", "wrong-number", "not-needed"}   # no further attempt after these
OUTCOMES = tuple(sorted(FINISHING_OUTCOMES | {"no-answer", "busy", "switched-off", "blank-again"}))
MAX_NOTE_CHARS = 500


def queue(db, call_sid, number, why, priority=Priority.UNDECIDED):
    """Queue a callback for a call (once per call), worked by PRIORITY (an ivr.vocabulary.Priority) then age;
    returns the entry or None if it was already queued."""
    try:
        with db.session() as session:
            entry = Callback(call_sid=call_sid, number=number, why=why, priority=int(priority), outcomes=[])
            session.add(entry)
        return entry
    except IntegrityError:
        return None


def pending(db, include_closed=False):
    """Callbacks to work, by priority then oldest first (all of them with include_closed: pending ones first)."""
    with db.reader() as session:
        closed_last = case((Callback.status == "pending", 0), else_=1)
        query = select(Callback).order_by(closed_last, Callback.priority, Callback.created_at, Callback.id)
        if not include_closed:
            query = query.where(Callback.status == "pending")
        return list(session.scalars(query))


def get(db, callback_id):
    """One callback entry, or None."""
    with db.reader() as session:
        return session.get(Callback, callback_id)


def snapshot(entry):
    """What the audit log keeps of an entry before and after an attempt."""
    return {"status": entry.status, "attempts": entry.attempts,
            "last": (entry.outcomes or [None])[-1]}


def record_attempt(db, callback_id, outcome, note, by, max_attempts, operator_id=None):
    """Record one attempt (audited); the entry closes on a finishing outcome or after max_attempts."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of: {', '.join(OUTCOMES)}")
    note = note[:MAX_NOTE_CHARS]
    with db.session() as session:
        entry = session.get(Callback, callback_id, with_for_update=True)
        if entry is None or entry.status != "pending":
            return entry, False
        before, now = snapshot(entry), utcnow()
        entry.attempts += 1
        entry.outcomes = list(entry.outcomes or []) + [
            {"at": now.isoformat(timespec="seconds"), "outcome": outcome, "note": note, "by": by}]
        entry.updated_at = now
        if outcome in FINISHING_OUTCOMES:
            entry.status = "done"
        elif entry.attempts >= max_attempts:
            entry.status = "given-up"
        audit.record(session, by, "callback.attempt", f"callback {entry.id}", before, snapshot(entry), operator_id)
        return entry, True
