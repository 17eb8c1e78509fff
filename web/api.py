"""JSON API for other control-room systems, authenticated by the X-API-Key header (IVR_API_KEY)."""
from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ivr.call import hold
from ivr.screening.numbers import normalise_number
from ivr.store import actions, audit, callbacks, calllist, calls, current_db, floods, holds, notes, spam, waiting
from ivr.store.models import utcnow
from web import guard, present, record, settings as settings_page
from web.holds import MAX_EXTEND_HOURS, extend_hours
from web.charts import summary

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_REASON_CHARS = 500



@bp.before_request
def _key():
    guard.refuse_nul_bytes()
    return guard.check_api_key()


@bp.errorhandler(HTTPException)
def _json_error(error):
    return jsonify(error=error.description), error.code


@bp.get("/calls")
def list_calls():
    """Calls newest first; the same filters as the calls page (class, route, flag, from, to, q, page, per_page)."""
    try:
        wanted = present.request_filter()
    except present.BadFilter as error:
        abort(400, description=str(error))
    rows, more = calllist.page_of_calls(current_db(), wanted)
    return jsonify(calls=[present.call_dict(call) for call in rows], page=wanted.page, per_page=wanted.per_page,
                   next_page=wanted.page + 1 if more else None)


@bp.get("/calls/<sid>")
def get_call(sid):
    """One call by its Twilio CallSid, with its record: turns, rated entities, tactics, threat, notes, trail."""
    db = current_db()
    call = calls.get_call(db, sid[:64])
    if call is None:
        abort(404, description="no such call")
    whole = record.build(call, audit.recent(db, target=call.sid), notes.notes_for(db, call.sid))
    return jsonify({**present.call_dict(call), **whole})


def _spam_dict(entry):
    return {"number": entry.number, "reason": entry.reason, "added_by": entry.added_by, "source": entry.source,
            "created_at": present.iso(entry.created_at), "expires_at": present.iso(entry.expires_at)}


@bp.get("/spam")
def list_spam():
    """The spam list, newest first; ?q= searches numbers and reasons."""
    rows = spam.search(current_db(), request.args.get("q", "").strip()[:64], 1, 1000)
    return jsonify(spam=[_spam_dict(entry) for entry in rows[:1000]])


def _number_from_request():
    body = request.get_json(silent=True) or {}
    raw = str(body.get("number") or request.args.get("number") or "")
    number = normalise_number(raw, current_app.config["IVR_DEFAULT_REGION"])
    if number is None:
        abort(400, description=f"{raw[:40]!r} is not a phone number")
    return number, body


@bp.post("/spam")
def add_spam():
    """Add {"number", "reason", "expires_hours" (optional)} to the spam list (201)."""
    number, body = _number_from_request()
    reason = str(body.get("reason") or "").strip()[:MAX_REASON_CHARS]
    if not reason:
        abort(400, description="reason is required")
    hours = body.get("expires_hours")
    if hours is not None and extend_hours(hours) is None:
        abort(400, description=f"expires_hours must be a whole number from 1 to {MAX_EXTEND_HOURS}")
    entry = actions.add_spam(current_db(), number, reason, "api", source="api", hours=extend_hours(hours))
    return jsonify(_spam_dict(entry)), 201


@bp.delete("/spam")
def remove_spam():
    """Remove a number (?number= or {"number"}) from the spam list."""
    number, _ = _number_from_request()
    if not actions.remove_spam(current_db(), number, "api"):
        abort(404, description=f"{number} is not on the spam list")
    return jsonify(removed=number)


def _hold_dict(hold):
    return {"id": hold.id, "number": hold.number, "kind": hold.kind, "reason": hold.reason,
            "created_at": present.iso(hold.created_at), "expires_at": present.iso(hold.expires_at)}


@bp.get("/holds")
def list_holds():
    """Blocks and watch-list entries in force."""
    return jsonify(holds=[_hold_dict(hold) for hold in holds.active_holds(current_db(), utcnow())])


@bp.post("/holds/lift")
def lift_holds():
    """Lift {"number"}'s block and watch-list entry (audited as api)."""
    number, _ = _number_from_request()
    lifted = actions.lift_holds(current_db(), number, "api")
    if not lifted:
        abort(404, description=f"{number} has no block or watch-list entry in force")
    return jsonify(number=number, lifted=lifted)


@bp.patch("/holds/<hold_id>")
def extend_hold(hold_id):
    """Extend a hold in force by {"hours"} (audited as api)."""
    body = request.get_json(silent=True)
    hours = extend_hours(body.get("hours")) if isinstance(body, dict) else None
    if hours is None or not hold_id.isdigit() or len(hold_id) > 18:
        abort(400, description=f"give a hold id and hours from 1 to {MAX_EXTEND_HOURS}")
    hold = actions.extend_hold(current_db(), int(hold_id), hours, "api")
    if hold is None:
        abort(404, description=f"hold {hold_id} is not in force")
    return jsonify(_hold_dict(hold))


def _flag(name):
    return request.args.get(name, "").strip().lower() in {"1", "true", "yes"}


def _alert_dict(alert):
    return {"id": alert.id, "line": alert.line, "kind": alert.kind, "detail": alert.detail, "callers": alert.callers, "window_seconds": alert.window_seconds,
            "status": alert.status, "notes": list(alert.notes or []), "created_at": present.iso(alert.created_at),
            "updated_at": present.iso(alert.updated_at)}


@bp.get("/alerts")
def list_alerts():
    """Flood alerts, open first and newest first; ?status= one status, ?include_closed=1 closed ones too."""
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in floods.STATUSES:
        abort(400, description=f"status must be one of: {', '.join(floods.STATUSES)}")
    rows = floods.alerts(current_db(), _flag("include_closed"), status)
    return jsonify(alerts=[_alert_dict(alert) for alert in rows])


@bp.patch("/alerts/<alert_id>")
def move_alert(alert_id):
    """Move an alert along new -> investigating -> closed with {"status", "note"}."""
    if not alert_id.isdigit() or len(alert_id) > 18:
        abort(404, description="no such flood alert")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("status"), str) \
            or not isinstance(body.get("note", ""), str):
        abort(400, description='send a JSON object {"status": "...", "note": "..."}')
    if body["status"] not in floods.STATUSES:
        abort(400, description=f"status must be one of: {', '.join(floods.STATUSES)}")
    alert, error = floods.move(current_db(), int(alert_id), body["status"], body.get("note", "").strip(), "api")
    if error:
        abort(404 if alert is None else 400, description=error)
    return jsonify(_alert_dict(alert))


def _callback_dict(entry):
    return {"id": entry.id, "call_sid": entry.call_sid, "number": entry.number, "why": entry.why,
            "priority": present.priority_name(entry.priority), "status": entry.status, "attempts": entry.attempts, "outcomes": list(entry.outcomes or []),
            "created_at": present.iso(entry.created_at), "updated_at": present.iso(entry.updated_at)}


@bp.get("/callbacks")
def list_callbacks():
    """The callback queue, by priority then oldest first; ?include_closed=1 adds finished and given-up entries after it."""
    rows = callbacks.pending(current_db(), _flag("include_closed"))
    return jsonify(callbacks=[_callback_dict(entry) for entry in rows])


@bp.get("/queue")
def list_queue():
    """Callers waiting in the hold queue, next first."""
    rows = waiting.waiting(current_db())
    return jsonify(waiting=[present.waiting_dict(call, n) for n, call in enumerate(rows, start=1)])


@bp.post("/queue/next")
def take_next():
    """Take the highest-priority waiting caller and dial them to ROUTE_OPERATOR (audited as `api`): 200 with
    the caller, 404 when nobody waits, 502 when Twilio refused the live update (the caller keeps waiting)."""
    target = current_app.config["ROUTE_OPERATOR"]
    call, error = hold.take_next(current_db(), current_app.extensions["ivr.live"], current_app.config, "api", target)
    if call is None:
        abort(404, description="nobody is waiting")
    if error:
        abort(502, description=f"the caller is still waiting: {error}")
    return jsonify(taken=call.sid, to=target, **{"from": call.from_number})


@bp.get("/stats")
def stats():
    """Calls per class per hour over the last 24 hours, and the blank/spam share."""
    return jsonify(summary(calllist.since_hours(current_db())))


@bp.get("/settings")
def get_settings():
    """Screening thresholds in force: value, source (environment or set at run time, by whom), limits."""
    return jsonify(settings=settings_page.current(current_db(), current_app.config),
                   applied_within_seconds=current_app.config["SCREEN_SETTINGS_TTL"])


@bp.put("/settings")
def put_settings():
    """Change thresholds with {KEY: value, ...} (null: back to the environment's); all or nothing, audited as api."""
    body = request.get_json(silent=True)
    errors = settings_page.apply(current_db(), body, "api")
    if errors:
        return jsonify(error="; ".join(errors), errors=errors), 400
    return get_settings()
