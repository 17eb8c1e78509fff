"""Reading control-room requests (filters, pages) and presenting calls the same way to pages, events and API."""
from datetime import date, datetime, time, timedelta, timezone

from ivr.screening.numbers import normalise_number
from flask import current_app, request

from ivr.store.calllist import FILTER_FLAGS, CallFilter, flags
from ivr.store.models import aware, utcnow
from ivr.triage.classifier import describe
from ivr.vocabulary import LABELS, Priority, Route

MAX_PAGE = 200              # deeper than 200 pages, narrow the dates instead: OFFSET grows linearly
MAX_PER_PAGE = 200
ROUTES = tuple(Route)
NUMBER_CHARS = set("+0123456789 -().")


class BadFilter(ValueError):
    """A filter the operator (or an API client) sent that we refuse, with a message saying why."""


def _choice(args, key, allowed):
    value = (args.get(key) or "").strip()
    if value and value not in allowed:
        raise BadFilter(f"{key} must be one of: {', '.join(allowed)}")
    return value or None


def _int(args, key, default, low, high):
    raw = (args.get(key) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadFilter(f"{key} must be a whole number from {low} to {high}")
    return int(raw)


def _day(args, key):
    raw = (args.get(key) or "").strip()
    if not raw:
        return None
    try:
        return datetime.combine(datetime.strptime(raw, "%Y-%m-%d").date(), time(), tzinfo=timezone.utc)
    except ValueError:
        raise BadFilter(f"{key} must be a date written YYYY-MM-DD") from None


def _number(args, region):
    raw = (args.get("q") or "").strip()
    if not raw:
        return None, False
    if len(raw) > 32 or not set(raw) <= NUMBER_CHARS:
        raise BadFilter("search by number: digits, spaces and + - ( ) only, at most 32 characters")
    exact = normalise_number(raw, region) if raw.startswith("+") else None
    digits = "".join(ch for ch in raw if ch.isdigit())
    if exact is None and not digits:
        raise BadFilter("search by number needs at least one digit")
    return (exact, True) if exact else (digits, False)


def _line(args):
    raw = (args.get("line") or "").strip()
    if raw and (len(raw) > 64 or not set(raw) <= NUMBER_CHARS):
        raise BadFilter("line: the dialled number as stored (digits, +), at most 64 characters")
    return raw or None


def request_filter():
    """The CallFilter of the current request's query arguments (pages, live events and the API alike)."""
    return parse_filter(request.args, current_app.config["WEB_PAGE_SIZE"], current_app.config["IVR_DEFAULT_REGION"])


def parse_filter(args, default_per_page, region):
    """A CallFilter from query arguments; raises BadFilter with a readable message for absurd values."""
    since, until = _day(args, "from"), _day(args, "to")
    if since and until and until < since:
        raise BadFilter("'to' is before 'from'")
    number, exact = _number(args, region)
    if until and until.date() == date.max:
        raise BadFilter("'to' must be a date before 9999-12-31")
    return CallFilter(label=_choice(args, "class", LABELS), route=_choice(args, "route", ROUTES),
                      flag=_choice(args, "flag", FILTER_FLAGS), since=since,
                      until=until + timedelta(days=1) if until else None, number=number, exact_number=exact,
                      line=_line(args),
                      page=_int(args, "page", 1, 1, MAX_PAGE),
                      per_page=_int(args, "per_page", default_per_page, 1, MAX_PER_PAGE))


def iso(moment):
    moment = aware(moment)
    return moment.isoformat(timespec="seconds") if moment else None


def route_of(call):
    """Where the call went, in one word: the desk, or how it ended."""
    return call.decision


def reading(label, confidence):
    """The classifier's reading as operators see it: "inquiry 93%", "possible emergency 12%" (calibrated)."""
    if not label:
        return ""
    return describe(label, confidence) + ("" if confidence is None else f" {round(confidence * 100)}%")


def call_dict(call):
    """A call as the page script, the event stream and the JSON API all see it."""
    return {"sid": call.sid, "from": call.from_number, "to": call.to_number, "created_at": iso(call.created_at),
            "updated_at": iso(call.updated_at), "ended_at": iso(call.ended_at), "status": call.status,
            "duration": call.duration, "transcript": call.transcript, "partial_transcript": call.partial_transcript,
            "class": call.label, "confidence": call.confidence, "probabilities": call.probabilities,
            "reading": reading(call.label, call.confidence),
            "operator_class": call.operator_label, "digit": call.digit, "decision": call.decision,
            "route": route_of(call), "route_target": call.route_target, "routed_early": call.routed_early,
            "risk": call.risk, "reasons": list(call.reasons or []), "faults": list(call.faults or []),
            "flags": [{"flag": flag, "reason": reason} for flag, reason in flags(call)]}


def priority_name(value):
    """A stored ivr.vocabulary.Priority as operators read it (emergency, caller, undecided, spam-reading)."""
    try:
        return Priority(value).name.lower().replace("_", "-")
    except ValueError:
        return str(value)


def waiting_dict(call, position):
    """A caller waiting in the hold queue, as the queue page and the API see it."""
    queued = aware(call.queued_at)
    return {"position": position, "sid": call.sid, "from": call.from_number,
            "priority": priority_name(call.queue_priority), "class": call.operator_label or call.label,
            "route": call.decision, "flags": [{"flag": flag, "reason": reason} for flag, reason in flags(call)],
            "queued_at": iso(queued), "waited_seconds": int((utcnow() - queued).total_seconds()) if queued else None}
