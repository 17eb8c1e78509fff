"""Stored audio fingerprints, read back by every process to match new calls against recent ones."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ivr.store.models import AudioFingerprint

RESCAN = 50     # ids are handed out before commit, so a slightly older id can appear late: look back a little


def save(db, sid, number, data):
    """Store one call's fingerprint (once per call); returns its id or None if it was stored already."""
    try:
        with db.session() as session:
            row = AudioFingerprint(call_sid=sid, number=number, hashes=data)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def since(db, last_id, limit):
    """Fingerprints with ids above last_id - RESCAN, at most the `limit` newest, oldest first."""
    with db.reader() as session:
        rows = session.execute(select(AudioFingerprint.id, AudioFingerprint.call_sid, AudioFingerprint.number,
                                      AudioFingerprint.hashes).where(AudioFingerprint.id > last_id - RESCAN)
                               .order_by(AudioFingerprint.id.desc()).limit(limit)).all()
    return list(reversed(rows))
