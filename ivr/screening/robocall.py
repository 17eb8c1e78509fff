"""Acting on machine signs found in a call's audio: flag the call, raise its risk, spot robocall campaigns."""
import logging
from datetime import datetime, timedelta, timezone

from ivr.screening.fingerprint import FingerprintIndex, from_bytes, is_match, to_bytes
from ivr.screening.machine_signs import FINGERPRINT
from ivr.store import calls, fingerprints, floods, settings
from ivr.vocabulary import AlertKind, Flag

log = logging.getLogger(__name__)

CAMPAIGN_RISK, SAME_NUMBER_RISK = 0.4, 0.1


def init_app(app):
    app.extensions["ivr.fingerprints"] = FingerprintIndex(app.config["SCREEN_FINGERPRINT_RECENT"])


def sync(db, index):
    """Bring this process's index up to date with fingerprints stored by every process."""
    for row in fingerprints.since(db, index.last_id, index.capacity):
        index.add(row.call_sid, row.number, from_bytes(row.hashes), row.id)


def on_finding(db, index, sid, finding, config=None, now=None):
    """Record a tone, talk-over or fingerprint finding on the call; returns the call (or None). With `config`, a
    recording played by SCREEN_CAMPAIGN_NUMBERS numbers within SCREEN_CAMPAIGN_SECONDS raises a campaign alert."""
    if finding.flag != FINGERPRINT:
        return calls.add_audio_finding(db, sid, Flag(finding.flag), finding.reason, finding.score)
    call = calls.get_call(db, sid)
    if call is None:
        return None
    sync(db, index)
    found = index.best(finding.hashes, exclude=sid)
    matched = found is not None and is_match(found[1], len(finding.hashes))
    recording = (fingerprints.recording_of(db, found[0][0]) or found[0][0]) if matched else sid
    store_id = fingerprints.save(db, sid, call.from_number, to_bytes(finding.hashes), recording, now)
    index.add(sid, call.from_number, finding.hashes, store_id or 0)
    if not matched:
        return call
    (other_sid, other_number), matches = found
    if other_number == call.from_number:
        return calls.add_audio_finding(db, sid, Flag.SAME_RECORDING, f"fingerprint: same recording as this number's "
                                       f"call {other_sid} ({matches} landmarks agree)", SAME_NUMBER_RISK)
    log.warning("%s: same recording as %s from %s: robocall campaign", sid, other_sid, other_number)
    if config is not None:
        campaign(db, call, recording, config, now or datetime.now(timezone.utc))
    return calls.add_audio_finding(db, sid, Flag.ROBOCALL, f"robocall: same recording as call {other_sid} from "
                                   f"{other_number} ({matches} landmarks agree)", CAMPAIGN_RISK)


def campaign(db, call, recording, config, now):
    """Alert the line when enough distinct numbers played one recording within the campaign window."""
    config = settings.in_force(db, config, config.get("SCREEN_SETTINGS_TTL", 5.0))   # `floods set`, the settings page
    window = config["SCREEN_CAMPAIGN_SECONDS"]
    numbers = fingerprints.numbers_playing(db, recording, now - timedelta(seconds=window))
    if numbers < config["SCREEN_CAMPAIGN_NUMBERS"]:
        return None
    detail = f"campaign: {numbers} numbers played the recording first heard on call {recording} within {window:g} s"
    alert = floods.raise_alert(db, call.to_number, numbers, window, now, config["SCREEN_FLOOD_COOLDOWN"],
                               AlertKind.CAMPAIGN, detail)
    if alert is not None:
        log.warning("campaign alert %d on %s: %s", alert.id, call.to_number, detail)
    return alert
