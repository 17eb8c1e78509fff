"""The hold queue as our database sees it: Twilio's queue is FIFO, so who is served next is decided here.

A caller waits while queued_at is set and taken_at, queue_result and ended_at are not. Taking a caller is an
atomic UPDATE ... WHERE taken_at IS NULL, so two operators never take the same one.
"""
from sqlalchemy import and_, func, or_, select, update

from ivr.store import audit
from ivr.store.models import Call, utcnow
from ivr.vocabulary import Flag, Route, Priority

TAKE_TRIES = 5          # heads another operator took between our read and our update, before giving up


def priority_of(call):
    """Emergencies first (the route, the reading, a caller who cannot speak), spam readings last."""
    flags = call.flags or {}
    if Route.EMERGENCY in (call.decision, call.label, call.operator_label) or Flag.SILENT_CALLER in flags:
        return Priority.EMERGENCY
    if Flag.SPAM_READING in flags:
        return Priority.SPAM_READING
    return Priority.CALLER


def _waiting():
    return and_(Call.queued_at.is_not(None), Call.taken_at.is_(None), Call.queue_result.is_(None),
                Call.ended_at.is_(None))


def _serving_order():
    return Call.queue_priority, Call.queued_at, Call.id


def enqueue(db, sid):
    """Put the call in the hold queue (again, after a taken caller's dial went unanswered: keeping its first
    queued_at, so it goes back near the head); returns the call, or None for an unknown sid."""
    with db.session() as session:
        call = session.scalar(select(Call).where(Call.sid == sid).with_for_update())
        if call is None:
            return None
        call.queued_at = call.queued_at or utcnow()
        call.queue_priority = int(priority_of(call))
        call.taken_at = call.taken_by = call.queue_result = None
        return call


def position(db, sid):
    """The caller's place in serving order (1 = next), or None when the call is not waiting."""
    with db.reader() as session:
        me = session.execute(select(Call.id, Call.queue_priority, Call.queued_at)
                             .where(Call.sid == sid, _waiting())).first()
        if me is None:
            return None
        ahead = or_(Call.queue_priority < me.queue_priority,
                    and_(Call.queue_priority == me.queue_priority,
                         or_(Call.queued_at < me.queued_at, and_(Call.queued_at == me.queued_at, Call.id < me.id))))
        return session.scalar(select(func.count()).select_from(Call).where(_waiting(), ahead)) + 1


def waiting(db, limit=200):
    """Callers waiting, in serving order."""
    with db.reader() as session:
        return list(session.scalars(select(Call).where(_waiting()).order_by(*_serving_order()).limit(limit)))


def snapshot(call):
    """What the audit log keeps of a queued call before and after it is taken or given back."""
    return {"priority": call.queue_priority, "queued_at": call.queued_at.isoformat(timespec="seconds")
            if call.queued_at else None, "taken_by": call.taken_by}


def take_next(db, by, operator_id=None):
    """Take the caller at the head of the queue for BY (audited); None when nobody is waiting."""
    for _ in range(TAKE_TRIES):
        with db.session() as session:
            head = session.scalar(select(Call).where(_waiting()).order_by(*_serving_order()).limit(1))
            if head is None:
                return None
            before = snapshot(head)
            taken = session.execute(update(Call).where(Call.id == head.id, _waiting())
                                    .values(taken_at=utcnow(), taken_by=by[:64])).rowcount == 1
            if taken:
                session.refresh(head)
                audit.record(session, by, "queue.take", head.sid, before, snapshot(head), operator_id)
                return head
    return None


def give_back(db, sid, by, why, operator_id=None):
    """Undo BY's take (the REST update failed): the caller waits again in the same place (audited)."""
    with db.session() as session:
        call = session.scalar(select(Call).where(Call.sid == sid).with_for_update())
        if call is None or call.taken_by != by[:64]:
            return None
        before = snapshot(call)
        call.taken_at = call.taken_by = None
        audit.record(session, by, "queue.give-back", sid, before, {**snapshot(call), "why": why[:300]}, operator_id)
        return call


def left(db, sid, result):
    """Record Twilio's QueueResult when the caller left the queue; returns the call."""
    with db.session() as session:
        call = session.scalar(select(Call).where(Call.sid == sid).with_for_update())
        if call is not None:
            call.queue_result = (result or "unknown")[:32]
        return call


def connected(db, sid):
    """Record that a dial to a desk or an operator was answered (kept once)."""
    with db.session() as session:
        session.execute(update(Call).where(Call.sid == sid, Call.connected_at.is_(None)).values(connected_at=utcnow()))
