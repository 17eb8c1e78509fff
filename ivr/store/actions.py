"""Operator and API actions that change data: each runs in one transaction with its audit entry."""
from datetime import timedelta

from sqlalchemy import delete, select

from ivr.store import audit
from ivr.store.models import BlankCount, Call, NumberHold, SpamNumber, aware, utcnow
from ivr.vocabulary import LABELS


def _spam_dict(entry):
    if entry is None:
        return None
    expires = aware(entry.expires_at).isoformat(timespec="seconds") if entry.expires_at else None
    return {"number": entry.number, "reason": entry.reason, "added_by": entry.added_by, "source": entry.source,
            "expires_at": expires}


def add_spam(db, number, reason, actor, operator_id=None, source="control-room", hours=None):
    """List NUMBER (E.164) as spam, or update its reason, for HOURS or until removed; returns the stored entry."""
    with db.session() as session:
        entry = session.scalar(select(SpamNumber).where(SpamNumber.number == number))
        before = _spam_dict(entry)
        if entry is None:
            entry = SpamNumber(number=number)
            session.add(entry)
        entry.reason, entry.added_by, entry.source = reason, actor[:64], source
        entry.expires_at = utcnow() + timedelta(hours=hours) if hours else None
        audit.record(session, actor, "spam.add", number, before, _spam_dict(entry), operator_id)
        return entry


def remove_spam(db, number, actor, operator_id=None):
    """Take NUMBER off the spam list; False when it was not on it."""
    with db.session() as session:
        entry = session.scalar(select(SpamNumber).where(SpamNumber.number == number))
        if entry is None:
            return False
        audit.record(session, actor, "spam.remove", number, _spam_dict(entry), None, operator_id)
        session.delete(entry)
        return True


def label_call(db, sid, label, actor, operator_id=None):
    """Record an operator's correction of a call's class (read by training); None for an unknown call."""
    if label not in LABELS:
        raise ValueError(f"class must be one of {', '.join(LABELS)}")
    with db.session() as session:
        call = session.scalar(select(Call).where(Call.sid == sid))
        if call is None:
            return None
        before = {"label": call.label, "operator_label": call.operator_label}
        call.operator_label, call.operator_label_by, call.operator_label_at = label, actor[:64], utcnow()
        audit.record(session, actor, "call.label", sid, before, {"label": call.label, "operator_label": label},
                     operator_id)
        return call


def _hold_dict(hold):
    return {"number": hold.number, "kind": hold.kind, "reason": hold.reason,
            "expires_at": aware(hold.expires_at).isoformat(timespec="seconds"),
            "lifted_by": hold.lifted_by}


def lift_holds(db, number, actor, operator_id=None, now=None):
    """Lift the number's blocks and watch-list entries in force and clear today's blank count (the next block
    needs a fresh run of blank calls); audited. Returns how many holds were lifted."""
    now = now or utcnow()
    with db.session() as session:
        held = list(session.scalars(select(NumberHold).where(
            NumberHold.number == number, NumberHold.lifted_at.is_(None), NumberHold.expires_at > now)
            .with_for_update()))
        for hold in held:
            before = _hold_dict(hold)
            hold.lifted_at, hold.lifted_by = now, actor[:64]
            audit.record(session, actor, "hold.lift", number, before, _hold_dict(hold), operator_id)
        session.execute(delete(BlankCount).where(BlankCount.number == number, BlankCount.day == now.date()))
        return len(held)


def extend_hold(db, hold_id, hours, actor, operator_id=None, now=None):
    """Keep a hold in force for HOURS more from now (or from its expiry, if later); audited. None: no such hold
    in force."""
    now = now or utcnow()
    with db.session() as session:
        hold = session.get(NumberHold, hold_id, with_for_update=True)
        if hold is None or hold.lifted_at is not None or aware(hold.expires_at) <= now:
            return None
        before = _hold_dict(hold)
        hold.expires_at = max(aware(hold.expires_at), now) + timedelta(hours=hours)
        audit.record(session, actor, "hold.extend", hold.number, before, _hold_dict(hold), operator_id)
        return hold
