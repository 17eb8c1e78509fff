"""Queries on calls. Each function is one short transaction, safe to call from any thread or process."""
import time

from sqlalchemy import select, update

from ivr.store import upsert
from ivr.store.models import Call, aware, utcnow

FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
RINGING, IN_PROGRESS = "ringing", "in-progress"     # Twilio's CallStatus words
MAX_TURNS = 200     # a call's timed turns kept; a stream cut off at its audio cap never gets near this


def get_call(db, sid):
    with db.reader() as session:
        return session.scalar(select(Call).where(Call.sid == sid))


def _locked(session, sid):
    """The call row, locked until commit (PostgreSQL; SQLite transactions already hold the write lock)."""
    return session.scalar(select(Call).where(Call.sid == sid).with_for_update())


def open_call(db, sid, from_number, to_number, risk=0.0, reasons=(), flags=None, block_reason=None, created_at=None):
    """Create the call record; a retried (or concurrent) webhook for the same sid gets the existing one."""
    arrived = {} if created_at is None else {"created_at": created_at, "updated_at": created_at}
    with db.session() as session:
        session.execute(upsert(session, Call).values(
            sid=sid, from_number=from_number, to_number=to_number, risk=risk, reasons=list(reasons), faults=[],
            status="ringing", flags=_flags(flags), block_reason=block_reason and block_reason[:300], **arrived)
            .on_conflict_do_nothing(index_elements=[Call.sid]))
        return session.scalar(select(Call).where(Call.sid == sid))


def record_screening(db, sid, risk, reasons, flags, block_reason=None):
    """Store what screening found on a call recorded at its arrival."""
    with db.session() as session:
        session.execute(update(Call).where(Call.sid == sid).values(
            risk=risk, reasons=list(reasons), flags=_flags(flags), block_reason=block_reason and block_reason[:300]))


def _flags(flags):
    """Flags as stored: {flag value: reason}."""
    return {str(flag): reason for flag, reason in (flags or {}).items()}


def claim_decision(db, sid, route, target=None, reasons=(), flags=None, early=False, digit=None):
    """Record where the call goes (an ivr.vocabulary.Route) unless a decision is already recorded; True if
    this call made it. ivr.call.flow.claim is the one caller."""
    with db.session() as session:
        call = _locked(session, sid)
        if call is None or call.decision is not None:
            return False
        values = dict(decision=str(route), route_target=target, routed_early=early, decided_at=utcnow(),
                      reasons=list(call.reasons or []) + list(reasons), flags={**(call.flags or {}), **_flags(flags)})
        if digit is not None:
            values["digit"] = digit
        result = session.execute(update(Call).where(Call.sid == sid, Call.decision.is_(None)).values(**values))
        return result.rowcount == 1


def follow_decision(db, sid):
    """Mark the decision on record as carried out by a webhook step too; False when there is none any more."""
    with db.session() as session:
        call = _locked(session, sid)
        if call is None or call.decision is None:
            return False
        call.followed_at = call.followed_at or utcnow()
        return True


def release_decision(db, sid, reasons, flags, fault):
    """Undo an early claim whose live update failed, taking back the reasons and flags it added, so the keypad
    step decides instead; the failure is kept as a fault. A claim a webhook step already followed stays."""
    with db.session() as session:
        call = _locked(session, sid)
        if call is not None and call.followed_at is not None:
            call.faults = list(call.faults or []) + [fault]
        elif call is not None:
            call.decision = call.route_target = call.decided_at = None
            call.routed_early = False
            added = list(reasons)
            kept = []
            for reason in call.reasons or []:      # drop one copy of each reason the claim appended
                if reason in added:
                    added.remove(reason)
                else:
                    kept.append(reason)
            call.reasons = kept
            call.flags = {key: value for key, value in (call.flags or {}).items() if key not in _flags(flags)}
            call.faults = list(call.faults or []) + [fault]


def add_audio_finding(db, sid, flag, reason, add_risk=0.0):
    """Flag a call for what its audio gave away (tone, talk-over, a known recording), raising its risk by
    `add_risk` (at most 1); returns the call."""
    with db.session() as session:
        call = _locked(session, sid)
        if call is None:
            return None
        call.flags = {**(call.flags or {}), str(flag): reason}
        if reason not in (call.audio_reasons or []):
            call.audio_reasons = list(call.audio_reasons or []) + [reason]
        call.risk = round(min(1.0, call.risk + add_risk), 3)
        return call


def claim_stream(db, sid):
    """Record that the call's media stream started, if it has none yet and has not ended; True if this stream
    got the call (one atomic UPDATE, so two streams racing for one call cannot both win)."""
    with db.session() as session:
        result = session.execute(update(Call).where(
            Call.sid == sid, Call.stream_started_at.is_(None), Call.status.not_in(FINAL_STATUSES))
            .values(stream_started_at=utcnow(), status=IN_PROGRESS))   # Twilio streams only an answered call
        return result.rowcount == 1


def set_utterance_open(db, sid, is_open):
    with db.session() as session:
        session.execute(update(Call).where(Call.sid == sid).values(utterance_open=is_open))


def set_heard(db, sid, until, voice_seconds=None):
    """Record that the caller's audio up to `until` (unix time; None: no recognition to wait for) has been
    recognised, and how much of it was voice (a call whose words are not recognised has no partials to carry it)."""
    values = {"heard_until": until} if voice_seconds is None else {"heard_until": until, "voice_seconds": voice_seconds}
    with db.session() as session:
        session.execute(update(Call).where(Call.sid == sid).values(**values))


def set_partial(db, sid, text, voice_seconds):
    with db.session() as session:
        session.execute(update(Call).where(Call.sid == sid).values(partial_transcript=text,
                                                                    voice_seconds=voice_seconds))


def add_final(db, sid, text, voice_seconds, result=None, entities=None):
    """Append a finished utterance (and a timed turn: seconds from the call's arrival); store the
    classification (and entities) of the whole transcript so far."""
    with db.session() as session:
        call = _locked(session, sid)
        if call is None:
            return None
        call.transcript = " ".join(part for part in (call.transcript, text) if part)
        if text and len(call.turns or []) < MAX_TURNS:
            offset = max(0.0, (utcnow() - aware(call.created_at)).total_seconds())
            call.turns = list(call.turns or []) + [{"at": round(offset, 1), "text": text}]
        call.partial_transcript = ""
        call.voice_seconds = voice_seconds
        call.utterance_open = False
        if result is not None:
            call.label, call.confidence, call.probabilities = result.label, result.confidence, result.probabilities
        if entities is not None:
            call.entities = entities
        return call


def add_flag(db, sid, flag, reason):
    """Raise FLAG (an ivr.vocabulary.Flag) on the call with REASON, keeping its other flags."""
    with db.session() as session:
        call = _locked(session, sid)
        if call is not None:
            call.flags = {**(call.flags or {}), str(flag): reason}


def add_fault(db, sid, fault):
    with db.session() as session:
        call = _locked(session, sid)
        if call is not None:
            call.faults = list(call.faults or []) + [fault]


def record_attempt(db, sid, digit):
    """Count one pass through the keypad menu and remember the digit pressed, if any."""
    with db.session() as session:
        call = _locked(session, sid)
        if call is None:
            return None
        call.attempts += 1
        if call.status == RINGING:      # a keypad step runs only on an answered call (no stream, e.g. a fault)
            call.status = IN_PROGRESS
        if digit is not None:
            call.digit = digit
        return call


def close_call(db, sid, status, duration=None, end_stream=False, reason=None):
    """Record a status callback; a final status is kept once and never reopened by a late retry. REASON (for
    humans) is added to the call's reasons when this closes it."""
    with db.session() as session:
        call = _locked(session, sid)
        if call is None:
            return None
        if end_stream:
            call.utterance_open = False
        if call.status not in FINAL_STATUSES and status:
            call.status = status
            if status in FINAL_STATUSES:
                call.ended_at = utcnow()
                if reason:
                    call.reasons = [*(call.reasons or []), reason]
        if duration is not None and call.duration is None:
            call.duration = duration
        return call


def stale_open(db, before, limit):
    """Sids of calls still open (no final status) that arrived before BEFORE, oldest first, at most LIMIT."""
    query = (select(Call.sid).where(Call.status.not_in(FINAL_STATUSES), Call.created_at < before)
             .order_by(Call.created_at, Call.id).limit(limit))
    with db.reader() as session:
        return list(session.scalars(query))


def wait_until_settled(db, sid, timeout, heard_by=None, interval=0.1):
    """Poll (bounded) until no utterance is open and recognition has heard the audio up to `heard_by`.

    The media stream may live in another process; when recognition lags behind the caller, the words
    said just before the keypad are still queued, so the decision waits for them too.
    """
    deadline = time.monotonic() + timeout
    while True:
        call = get_call(db, sid)
        if call is None or time.monotonic() >= deadline:
            return call
        behind = heard_by is not None and call.heard_until is not None and call.heard_until < heard_by
        if not call.utterance_open and not behind:
            return call
        time.sleep(interval)
