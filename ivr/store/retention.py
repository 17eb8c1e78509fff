"""Retention: old calls and their audio fingerprints are deleted in bounded batches, one audit entry per run.

Kept whatever their age: calls with a pending callback (someone still has to ring them back) and calls an
operator labelled (training data). Finished callbacks of a deleted call go with it; audit entries stay (they
are the record of who did what, and name a call only by its sid).
"""
from sqlalchemy import delete, exists, func, select

from ivr.store import audit
from ivr.store.models import AudioFingerprint, Call, Callback

BATCH = 500


def _purgeable(before):
    pending = exists().where(Callback.call_sid == Call.sid, Callback.status == "pending")
    return (Call.created_at < before, Call.operator_label.is_(None), ~pending)


def count(db, before):
    """What a purge of calls before BEFORE would delete: {"calls", "fingerprints", "callbacks"}."""
    sids = select(Call.sid).where(*_purgeable(before))
    with db.reader() as session:
        return {"calls": session.scalar(select(func.count()).select_from(Call).where(*_purgeable(before))),
                "fingerprints": session.scalar(select(func.count()).select_from(AudioFingerprint)
                                               .where(AudioFingerprint.call_sid.in_(sids))),
                "callbacks": session.scalar(select(func.count()).select_from(Callback)
                                            .where(Callback.call_sid.in_(sids)))}


def purge_batch(db, before, batch=BATCH):
    """Delete up to BATCH purgeable calls, with their fingerprints and finished callbacks, in one transaction."""
    with db.session() as session:
        rows = session.execute(select(Call.id, Call.sid).where(*_purgeable(before))
                               .order_by(Call.created_at, Call.id).limit(batch)).all()
        ids, sids = [row.id for row in rows], [row.sid for row in rows]
        if not ids:
            return {"calls": 0, "fingerprints": 0, "callbacks": 0}
        fingerprints = session.execute(delete(AudioFingerprint).where(AudioFingerprint.call_sid.in_(sids)))
        callbacks = session.execute(delete(Callback).where(Callback.call_sid.in_(sids),
                                                           Callback.status != "pending"))
        session.execute(delete(Call).where(Call.id.in_(ids)))
        return {"calls": len(ids), "fingerprints": fingerprints.rowcount, "callbacks": callbacks.rowcount}


def purge(db, before, days, actor, batch=BATCH):
    """Purge every purgeable call before BEFORE, batch by batch; audited once (`calls.purge`) with the counts."""
    totals = {"calls": 0, "fingerprints": 0, "callbacks": 0}
    while True:
        done = purge_batch(db, before, batch)
        for key, value in done.items():
            totals[key] += value
        if done["calls"] < batch:
            break
    audit.add(db, actor, "calls.purge", f"older than {days} days",
              after={**totals, "older_than_days": days, "before": before.isoformat()})
    return totals
