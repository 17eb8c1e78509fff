"""The live board's reads and the "taking it" claim: calls still in progress, and which operator works each."""
from datetime import timedelta

from sqlalchemy import and_, not_, select, update

from ivr.store import audit
from ivr.store.models import Call, utcnow
from ivr.vocabulary import Flag, Route

# A call whose final status callback was lost stays open until `calls reconcile` settles it: it is pinned for
# this long at most, so a lost callback cannot pin a call for days.
LIVE_HOURS = 6
LIVE_LIMIT = 200


def live():
    """The calls the board pins: not ended, from the last LIVE_HOURS, not rejected unanswered."""
    return and_(Call.ended_at.is_(None), Call.created_at >= utcnow() - timedelta(hours=LIVE_HOURS),
                Call.decision.is_distinct_from(str(Route.REJECT)))


def finished():
    """Every other call: the board's list below the pinned ones (each call is in exactly one of the two)."""
    return not_(live())


def in_progress(db, limit=LIVE_LIMIT):
    """Calls the board pins, newest first, read from the partial index ix_calls_open."""
    query = select(Call).where(live()).order_by(Call.created_at.desc(), Call.id.desc()).limit(limit)
    with db.reader() as session:
        return list(session.scalars(query))


def is_emergency(call):
    """An emergency by any reading: the route, the classifier's or the operator's class, a caller who pressed 5."""
    return Route.EMERGENCY in (call.decision, call.label, call.operator_label) or Flag.SILENT_CALLER in (call.flags or {})


def phase(call):
    """Where a call is: ivr (being screened and heard), waiting (hold queue), connected, dialling, or ended."""
    if call.ended_at is not None:
        return "ended"
    if call.connected_at is not None:
        return "connected"
    if call.queued_at is not None and call.taken_at is None and call.queue_result is None:
        return "waiting"
    if call.decision is not None:
        return "dialling"
    return "ivr"


def claim(db, sid, by, operator_id=None):
    """BY takes the call (audited); returns (call, None), or (call or None, message) when refused."""
    with db.session() as session:
        call = session.scalar(select(Call).where(Call.sid == sid).with_for_update())
        if call is None:
            return None, f"no call {sid}"
        if call.claimed_by == by[:64]:
            return call, None
        taken = session.execute(update(Call).where(Call.id == call.id, Call.claimed_by.is_(None))
                                .values(claimed_by=by[:64], claimed_at=utcnow())).rowcount == 1
        session.refresh(call)
        if not taken:
            return call, f"{call.claimed_by} is already taking this call"
        audit.record(session, by, "call.claim", sid, {"claimed_by": None}, {"claimed_by": call.claimed_by},
                     operator_id)
        return call, None


def release(db, sid, by, operator_id=None):
    """BY lets go of a call they took (audited); returns (call, None) or (call or None, message)."""
    with db.session() as session:
        call = session.scalar(select(Call).where(Call.sid == sid).with_for_update())
        if call is None:
            return None, f"no call {sid}"
        if call.claimed_by != by[:64]:
            return call, "you are not taking this call" if call.claimed_by is None else \
                f"{call.claimed_by} is taking this call, not you"
        call.claimed_by = call.claimed_at = None
        audit.record(session, by, "call.release", sid, {"claimed_by": by[:64]}, {"claimed_by": None}, operator_id)
        return call, None
