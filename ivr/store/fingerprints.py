"""Stored audio fingerprints, read back by every process to match new calls against recent ones."""
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ivr.store.models import AudioFingerprint

RESCAN = 50     # ids are handed out before commit, so a slightly older id can appear late: look back a little


def save(db, sid, number, data, recording=None, now=None):
    """Store one call's fingerprint (once per call) with the recording it plays (the sid of the first call heard
    with it); returns its id or None if it was stored already."""
    when = {} if now is None else {"created_at": now}
    try:
        with db.session() as session:
            row = AudioFingerprint(call_sid=sid, number=number, hashes=data, recording=recording or sid, **when)
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


def recording_of(db, sid):
    """The recording a call's fingerprint was filed under (None when it has none)."""
    with db.reader() as session:
        return session.scalar(select(AudioFingerprint.recording).where(AudioFingerprint.call_sid == sid))


def numbers_playing(db, recording, since):
    """Distinct numbers whose calls played RECORDING since SINCE."""
    with db.reader() as session:
        return session.scalar(select(func.count(AudioFingerprint.number.distinct())).where(
            AudioFingerprint.recording == recording, AudioFingerprint.created_at >= since))
