"""Operator and API actions that change data: each runs in one transaction with its audit entry."""
from sqlalchemy import select

from ivr.store import audit
from ivr.store.models import Call, SpamNumber, utcnow
from ivr.vocabulary import LABELS


def _spam_dict(entry):
    return None if entry is None else {"number": entry.number, "reason": entry.reason, "added_by": entry.added_by,
                                       "source": entry.source}


def add_spam(db, number, reason, actor, operator_id=None, source="control-room"):
    """List NUMBER (E.164) as spam, or update its reason; returns the stored entry."""
    with db.session() as session:
        entry = session.scalar(select(SpamNumber).where(SpamNumber.number == number))
        before = _spam_dict(entry)
        if entry is None:
            entry = SpamNumber(number=number)
            session.add(entry)
        entry.reason, entry.added_by, entry.source = reason, actor[:64], source
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
