"""Call-flood alerts: raised once per cooldown per line, then worked new -> investigating -> closed."""
from datetime import timedelta

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from ivr.store import audit
from ivr.store.models import FloodAlert, utcnow
from ivr.vocabulary import AlertKind

TRANSITIONS = {"new": {"investigating", "closed"}, "investigating": {"closed"}, "closed": set()}
STATUSES = tuple(TRANSITIONS)
MAX_NOTE_CHARS = 500


def raise_alert(db, line, callers, window_seconds, now, cooldown_seconds, kind=AlertKind.FLOOD, detail=""):
    """Store an alert of KIND unless the line had one within the cooldown; returns the new alert or None."""
    with db.reader() as session:
        recent = session.scalar(select(FloodAlert.id).where(
            FloodAlert.line == line, FloodAlert.kind == kind,
            FloodAlert.created_at > now - timedelta(seconds=cooldown_seconds)).limit(1))
    if recent is not None:
        return None
    try:
        with db.session() as session:
            alert = FloodAlert(line=line, kind=str(kind), detail=detail[:300], callers=callers,
                               bucket=int(now.timestamp() // max(cooldown_seconds, 1)),
                               window_seconds=window_seconds, created_at=now, updated_at=now, notes=[])
            session.add(alert)
        return alert
    except IntegrityError:       # another process raised it in the same instant
        return None


def alerts(db, include_closed=False, status=None):
    """Alerts newest first (open ones before closed ones with include_closed), optionally of one status."""
    with db.reader() as session:
        closed_last = case((FloodAlert.status == "closed", 1), else_=0)
        query = select(FloodAlert).order_by(closed_last, FloodAlert.created_at.desc(), FloodAlert.id.desc())
        if status is not None:
            query = query.where(FloodAlert.status == status)
        elif not include_closed:
            query = query.where(FloodAlert.status != "closed")
        return list(session.scalars(query))


def move(db, alert_id, status, note, by, operator_id=None):
    """Move an alert along its workflow with a note (audited); returns (alert, error message or None)."""
    if status not in TRANSITIONS:
        return None, f"status must be one of: {', '.join(STATUSES)}"
    note = note[:MAX_NOTE_CHARS]
    with db.session() as session:
        alert = session.get(FloodAlert, alert_id, with_for_update=True)
        if alert is None:
            return None, f"no flood alert {alert_id}"
        if status != alert.status and status not in TRANSITIONS[alert.status]:
            return alert, f"alert {alert_id} is {alert.status}; it cannot become {status}"
        before, now = {"status": alert.status}, utcnow()
        alert.notes = list(alert.notes or []) + [{"at": now.isoformat(timespec="seconds"), "by": by,
                                                  "status": status, "note": note}]
        alert.status, alert.updated_at = status, now
        audit.record(session, by, "alert.move", f"flood-alert {alert.id}", before, {"status": status, "note": note},
                     operator_id)
        return alert, None


def open_summary(db):
    """(open alerts, new alerts, newest alert id or 0): the header badge polls this (ix_flood_alerts_status)."""
    query = select(func.count(), func.count(case((FloodAlert.status == "new", 1))), func.max(FloodAlert.id)) \
        .where(FloodAlert.status != "closed")
    with db.reader() as session:
        open_count, new_count, newest = session.execute(query).one()
        return open_count, new_count, newest or 0
