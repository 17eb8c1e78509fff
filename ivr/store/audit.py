"""The audit log: every operator and API action, who did it, when, and the record before and after."""
from sqlalchemy import func, select

from ivr.store.models import AuditEntry

MAX_TARGET_CHARS = 128


def record(session, actor, action, target, before=None, after=None, operator_id=None):
    """Add an entry inside the caller's transaction, so the action and its audit commit together."""
    session.add(AuditEntry(actor=actor[:64], operator_id=operator_id, action=action,
                           target=str(target)[:MAX_TARGET_CHARS], before=before, after=after))


def recent(db, page=1, per_page=100, target=None):
    """Newest entries first, optionally for one target (a call sid or a number)."""
    with db.reader() as session:
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        if target:
            query = query.where(AuditEntry.target == target)
        return list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))


def add(db, actor, action, target, before=None, after=None):
    """Record an event that changes nothing else (a failed sign-in) in its own transaction."""
    with db.session() as session:
        record(session, actor, action, target, before, after)


def count_since(db, action, target, since):
    """How many ACTION entries on TARGET since SINCE (uses ix_audit_log_target)."""
    query = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.target == target[:MAX_TARGET_CHARS], AuditEntry.action == action, AuditEntry.at >= since)
    with db.reader() as session:
        return session.scalar(query)
