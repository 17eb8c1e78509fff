"""Acting on machine signs found in a call's audio: flag the call, raise its risk, spot robocall campaigns."""
import logging

from ivr.screening.fingerprint import FingerprintIndex, from_bytes, is_match, to_bytes
from ivr.screening.machine_signs import FINGERPRINT
from ivr.store import calls, fingerprints
from ivr.vocabulary import Flag

log = logging.getLogger(__name__)

CAMPAIGN_RISK, SAME_NUMBER_RISK = 0.4, 0.1


def init_app(app):
    app.extensions["ivr.fingerprints"] = FingerprintIndex(app.config["SCREEN_FINGERPRINT_RECENT"])


def sync(db, index):
    """Bring this process's index up to date with fingerprints stored by every process."""
    for row in fingerprints.since(db, index.last_id, index.capacity):
        index.add(row.call_sid, row.number, from_bytes(row.hashes), row.id)


def on_finding(db, index, sid, finding):
    """Record a tone, talk-over or fingerprint finding on the call; returns the call (or None)."""
    if finding.flag != FINGERPRINT:
        return calls.add_audio_finding(db, sid, Flag(finding.flag), finding.reason, finding.score)
    call = calls.get_call(db, sid)
    if call is None:
        return None
    sync(db, index)
    found = index.best(finding.hashes, exclude=sid)
    store_id = fingerprints.save(db, sid, call.from_number, to_bytes(finding.hashes))
    index.add(sid, call.from_number, finding.hashes, store_id or 0)
    if found is None or not is_match(found[1], len(finding.hashes)):
        return call
    (other_sid, other_number), matches = found
    if other_number != call.from_number:
        log.warning("%s: same recording as %s from %s: robocall campaign", sid, other_sid, other_number)
        return calls.add_audio_finding(db, sid, Flag.ROBOCALL, f"robocall: same recording as call {other_sid} from "
                                       f"{other_number} ({matches} landmarks agree)", CAMPAIGN_RISK)
    return calls.add_audio_finding(db, sid, Flag.SAME_RECORDING, f"fingerprint: same recording as this number's call "
                                   f"{other_sid} ({matches} landmarks agree)", SAME_NUMBER_RISK)
