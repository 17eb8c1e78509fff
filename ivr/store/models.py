"""Typed SQLAlchemy models. The schema itself changes only through Alembic revisions."""
from datetime import date, datetime, timezone

from sqlalchemy import (Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, JSON, LargeBinary, String,
                        Text, UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow():
    return datetime.now(timezone.utc)


def aware(moment):
    """SQLite hands datetimes back without a zone; every stored time is UTC."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _digits_reversed(context):
    number = context.get_current_parameters().get("from_number") or ""
    return reversed_digits(number)


def reversed_digits(text):
    """The digits of TEXT, last first (at most 32)."""
    return "".join(ch for ch in text if ch.isdigit())[::-1][:32]


class Base(DeclarativeBase):
    pass


class Call(Base):
    """One phone call, from the first webhook to the final status callback."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str] = mapped_column(String(64), index=True)
    to_number: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="ringing")
    duration: Mapped[int | None] = mapped_column(Integer)
    stream_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    utterance_open: Mapped[bool] = mapped_column(Boolean, default=False)
    voice_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    transcript: Mapped[str] = mapped_column(Text, default="")
    partial_transcript: Mapped[str] = mapped_column(Text, default="")
    label: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    probabilities: Mapped[dict | None] = mapped_column(JSON)
    digit: Mapped[str | None] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    decision: Mapped[str | None] = mapped_column(String(16))    # an ivr.vocabulary.Route: a desk or an ending
    route_target: Mapped[str | None] = mapped_column(String(128))
    routed_early: Mapped[bool] = mapped_column(Boolean, default=False)
    # when a webhook step carried out an early route too: from then on a failed live update cannot release it
    followed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    faults: Mapped[list] = mapped_column(JSON, default=list)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    entities: Mapped[dict | None] = mapped_column(JSON)   # phones, places, names heard (ivr.triage.extract)
    # each final utterance as {"at": seconds from created_at, "text": ...}, in the order heard
    turns: Mapped[list | None] = mapped_column(JSON)
    # Unix time up to which the caller's audio has been through speech recognition (lags when overloaded)
    heard_until: Mapped[float | None] = mapped_column(Float)
    # ivr.vocabulary.Flag -> the reason it was raised, set by the code that raised it (screening, audio, decision)
    flags: Mapped[dict] = mapped_column(JSON, default=dict)
    # what the caller's audio gave away mid-call (robocall, tones, talk-over); kept apart from `reasons`,
    # which the decision step rewrites, so neither writer can lose the other's entries
    audio_reasons: Mapped[list] = mapped_column(JSON, default=list)
    block_reason: Mapped[str | None] = mapped_column(String(300))   # why the call was rejected unanswered
    # The control room polls this to push changes live; onupdate keeps it fresh for every store write.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow, index=True)
    operator_label: Mapped[str | None] = mapped_column(String(16))
    operator_label_by: Mapped[str | None] = mapped_column(String(64))
    operator_label_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The hold queue (ivr.store.waiting): a caller waits from queued_at, served by queue_priority (an
    # ivr.vocabulary.Priority) then wait; taken_* is the operator who took them; queue_result is Twilio's
    # QueueResult when they left. connected_at is when a <Dial> to a desk or operator was answered.
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queue_priority: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    taken_by: Mapped[str | None] = mapped_column(String(64))
    queue_result: Mapped[str | None] = mapped_column(String(32))
    connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "Taking it" on the live board (ivr.store.board): the operator working this call, so no two do
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The caller's digits reversed: "number ends with 45678" becomes an indexed prefix search.
    from_digits_reversed: Mapped[str] = mapped_column(String(32), default=_digits_reversed)

    __table_args__ = (
        Index("ix_calls_from_digits_reversed", "from_digits_reversed",
              postgresql_ops={"from_digits_reversed": "varchar_pattern_ops"}),
        # the flood window counts distinct callers per dialled line from this index
        Index("ix_calls_to_number_created_at", "to_number", "created_at"),
        # who waits, in serving order: the wait URL counts the callers ahead from here
        Index("ix_calls_queue_order", "queue_priority", "queued_at"),
        # the live board's pinned calls: only calls not yet ended are in this index
        Index("ix_calls_open", "created_at", postgresql_where=text("ended_at IS NULL"),
              sqlite_where=text("ended_at IS NULL")),
    )


class SpamNumber(Base):
    """A caller number whose calls are rejected before they are answered."""

    __tablename__ = "spam_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    added_by: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(32), default="cli")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))    # None: until removed


class BlankCount(Base):
    """Blank calls from one number on one (UTC) day: the blank-call policy's counter."""

    __tablename__ = "blank_counts"
    __table_args__ = (UniqueConstraint("number", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    blank_calls: Mapped[int] = mapped_column(Integer, default=0)


class NumberHold(Base):
    """A policy entry on a number: `watch` (answered with more risk) or `block` (rejected) until it expires."""

    __tablename__ = "number_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lifted_by: Mapped[str | None] = mapped_column(String(64))


class Callback(Base):
    """A caller the control room should ring back: dropped before a decision, blank and not on watch, gave up
    waiting in the hold queue, or decided for a desk and never connected."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str] = mapped_column(String(32))
    why: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)   # pending | done | given-up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=2)   # an ivr.vocabulary.Priority: worked lowest first
    outcomes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FloodAlert(Base):
    """Something wrong on one dialled line (a flood of callers, a recorded campaign, a number range, a burst of
    blank calls); worked new -> investigating -> closed."""

    __tablename__ = "flood_alerts"
    __table_args__ = (UniqueConstraint("line", "kind", "bucket", name="uq_flood_alerts_line_kind_bucket"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="flood", server_default="flood")   # an ivr.vocabulary.AlertKind
    detail: Mapped[str] = mapped_column(String(300), default="", server_default="")          # why, for operators
    bucket: Mapped[int] = mapped_column(Integer)     # start time // cooldown: two processes cannot both raise one
    callers: Mapped[int] = mapped_column(Integer)
    window_seconds: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    notes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AudioFingerprint(Base):
    """Landmark hashes of the first seconds of a call's audio, matched against recent calls."""

    __tablename__ = "audio_fingerprints"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)   # uint32 pairs (hash, frame), little-endian
    # the call sid of the first call heard with this recording: calls sharing it are one campaign
    recording: Mapped[str | None] = mapped_column(String(64), index=True)


class ScreenSetting(Base):
    """A screening threshold changed at run time by an operator; overrides its SCREEN_* environment value."""

    __tablename__ = "screen_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Operator(Base):
    """A control-room user: operators triage calls, admins also manage the spam list and read the audit log."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="operator")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    phone: Mapped[str | None] = mapped_column(String(128))   # E.164 or sip: where a caller they take is dialled
    # in every session cookie; logout and disable bump it, so each cookie signed before stops working
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginAttempt(Base):
    """Sign-in attempts on one key (an address, or an address and a name) in a fixed window: the throttle."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CallNote(Base):
    """A note an operator wrote on a call (for the hand-over or an FIR); audited as call.note."""

    __tablename__ = "call_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    author: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """One operator or API action: who did what to which record, with the record before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128), default="", index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

