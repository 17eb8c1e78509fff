"""The calls page (live), a call's page, and the operators' actions on calls: correct a class, add to spam."""
import collections
import dataclasses
import functools
import json
import logging
import threading
import time
from datetime import timedelta

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session,
                   stream_with_context, url_for)
from sqlalchemy.exc import SQLAlchemyError

from ivr.screening.numbers import normalise_number
from ivr.store import actions, calllist, operators
from ivr.store.models import aware, utcnow
from ivr.vocabulary import LABELS
from ivr.store import current_db
from web import board, guard, handover, metrics, present, record
from web.holds import extend_hours

log = logging.getLogger(__name__)
bp = Blueprint("calls", __name__)

# Re-read this much before the newest change seen: a transaction that stamped updated_at earlier may commit later.
OVERLAP = timedelta(seconds=2)
ACCESS_CHECK_SECONDS = 3     # re-check the operator this often
NOTIFIED_POLL_SECONDS = 5    # with PostgreSQL notifications a stream still looks this often, in case one is lost
HEARTBEAT_SECONDS = 5        # a closed page is only noticed on a write: free its thread soon
MAX_REASON_CHARS = 500



@bp.get("/")
def index():
    """Calls, newest first, with filters, number search and pages; the page script keeps it live."""
    try:
        wanted = present.request_filter()
    except present.BadFilter as error:
        return render_template("calls.html", rows=[], pinned=[], more=False, wanted=None, error=str(error),
                               args={}, live=False), 400
    # the list holds the calls the board does not pin, so a busy board never empties page 1 of finished calls
    rows, more = calllist.page_of_calls(current_db(), dataclasses.replace(wanted, finished=True))
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    live = wanted.page == 1     # the newest page of any filter: matching calls come in, others go
    everything = calllist.CallFilter(page=wanted.page, per_page=wanted.per_page)
    pinned = board.pinned(current_db(), wanted, everything) if live else []
    return render_template("calls.html", rows=rows, pinned=pinned,
                           row_urls=_row_urls(),
                           more=more, wanted=wanted, args=args, error=None, live=live, present=present,
                           board=board, labels=LABELS, routes=present.ROUTES, flag_names=calllist.FILTER_FLAGS)


def _row_urls():
    """What every row of the board repeats, worked out once per page (SID is replaced per row)."""
    return {"detail": url_for(".detail", sid="SID"), "claim": url_for("web.board.claim", sid="SID"),
            "release": url_for("web.board.release", sid="SID"), "spam": url_for(".add_spam"),
            "token": guard.csrf_token(), "back": request.full_path, "me": guard.actor()}


@bp.get("/calls/<sid>")
def detail(sid):
    """One call as an operator's brief: turns, entities, tactics, notes, who handled it, the trail."""
    return handover.page(sid)


@bp.post("/calls/<sid>/class")
def correct_class(sid):
    """Record the operator's class for this call (training reads it back); an empty choice is refused."""
    label = request.form.get("class", "")
    if not label:
        return handover.page(sid, class_error="Choose a class from the list, then save."), 400
    if label not in LABELS:
        abort(400, description=f"class must be one of: {', '.join(LABELS)}")
    if actions.label_call(current_db(), sid[:64], label, guard.actor(), guard.g.operator.id) is None:
        abort(404)
    flash(f"Class set to {label}.")
    return redirect(url_for(".detail", sid=sid))


@bp.post("/spam")
def add_spam():
    """Add a number to the spam list (its next call is rejected unanswered), from the list or a call's page."""
    raw, reason = request.form.get("number", ""), request.form.get("reason", "").strip()[:MAX_REASON_CHARS]
    back = guard.same_site_path(request.form.get("back"), url_for(".index"))
    number = normalise_number(raw, current_app.config["IVR_DEFAULT_REGION"])
    if number is None:
        flash(f"Not added: {raw[:40]!r} is not a phone number.", "error")
        return redirect(back)
    if not reason:
        flash("Not added: give a reason (operators and the audit log show it).", "error")
        return redirect(back)
    hours = extend_hours(request.form.get("hours")) if request.form.get("hours") else None
    actions.add_spam(current_db(), number, reason, guard.actor(), guard.g.operator.id, hours=hours)
    log.info("%s added %s to the spam list: %s", guard.actor(), number, reason)
    flash(f"{number} is on the spam list: its next call will be rejected.")
    return redirect(back)


@bp.get("/events")
def events():
    """Server-sent events: every call as it changes (new, transcript, decision), polled from updated_at. With
    the calls page's filter arguments, each event says whether the call matches them (`matches`), so a filtered
    page takes in calls that come to match and drops those that stop matching."""
    db, config = current_db(), current_app.config
    try:
        wanted = present.request_filter()
    except present.BadFilter as error:
        return Response(f"{error}\n", status=400, mimetype="text/plain")
    everything = calllist.CallFilter(page=wanted.page, per_page=wanted.per_page)
    match = None if wanted == everything else functools.partial(calllist.matching, db, wanted)
    start = aware(calllist.latest_change(db))
    allowed = functools.partial(_still_active, db, guard.g.operator.id, session.get("epoch"))
    changes, slots = current_app.extensions["ivr.changes"], current_app.extensions["web.stream_slots"]
    key = session.get("sid") or f"operator {guard.g.operator.id}"
    if not slots.take(key, config["WEB_EVENTS_PER_SESSION"]):
        return Response("Too many live pages are open in this session: close one, then reload.\n", status=429,
                        mimetype="text/plain")
    response = Response(stream_with_context(_changes(db, start, config["WEB_EVENTS_POLL_SECONDS"],
                                                     config["WEB_EVENTS_MAX_SECONDS"], allowed, match, changes)),
                        mimetype="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    response.call_on_close(functools.partial(slots.release, key))     # also when the stream never started
    return response


class StreamSlots:
    """Event streams open per session in this process: each holds a gunicorn thread for minutes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._open = collections.Counter()

    def take(self, key, limit):
        """Take a slot for KEY unless LIMIT are taken already; True when taken."""
        with self._lock:
            if self._open[key] >= limit:
                return False
            self._open[key] += 1
            return True

    def release(self, key):
        """Give back a slot taken for KEY."""
        with self._lock:
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]


def _still_active(db, operator_id, epoch):
    return operators.session_valid(operators.get(db, operator_id), epoch)


def _changes(db, cursor, interval, lifetime, allowed, match, changes):
    """Read changed calls whenever `changes` (ivr.store.notify.Changes) says some call changed, and at least
    every `interval` seconds without notifications (SQLite, or the listener down); works with any number of
    processes and nodes because the database is the only state. `match(ids)` returns the ids that pass the
    page's filter (None: every call does). Ends when `changes` is closed (the app is stopping)."""
    sent, deadline, quiet_since, opened = {}, time.monotonic() + lifetime, time.monotonic(), cursor
    checked, seen = 0.0, None
    yield "retry: 1000\n\n"
    while time.monotonic() < deadline and not changes.closed:   # closed: the app is stopping
        try:
            if time.monotonic() - checked >= ACCESS_CHECK_SECONDS:
                if not allowed():
                    return      # a disabled operator stops receiving calls within a few seconds
                checked = time.monotonic()
            seen = changes.generation
            changed = _changed_calls(db, cursor - OVERLAP)
            fresh = list({call.id: call for call in changed     # batches overlap at their edges
                          if sent.get(call.id) != aware(call.updated_at)}.values())
            matched = match([call.id for call in fresh]) if match and fresh else None
        except SQLAlchemyError as error:
            # End the stream; the browser's EventSource reconnects once the database answers again.
            log.warning("live events stopped: database error %s", type(error).__name__)
            return
        for call in fresh:
            stamp = aware(call.updated_at)
            sent[call.id] = stamp
            cursor = max(cursor, stamp)
            quiet_since = time.monotonic()
            if stamp > opened:      # not the catch-up sent when the page connects
                metrics.LIVE_EVENT_LAG.observe(max(0.0, (utcnow() - stamp).total_seconds()))
            data = {**board.board_dict(call), **record.live_fields(call),
                    "matches": matched is None or call.id in matched}
            yield f"event: call\ndata: {json.dumps(data)}\n\n"
        sent = {key: stamp for key, stamp in sent.items() if stamp >= cursor - OVERLAP}
        if time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        pause = NOTIFIED_POLL_SECONDS if changes.listening else interval
        changes.wait(seen, max(0.0, min(pause, ACCESS_CHECK_SECONDS, HEARTBEAT_SECONDS, deadline - time.monotonic())))


def _changed_calls(db, since, batch=calllist.CHANGES_BATCH):
    """Every call changed at or after SINCE, read in batches so a burst of changes cannot stall the stream."""
    found = []
    while True:
        rows = calllist.changed_since(db, since, batch)
        found += rows
        if len(rows) < batch or aware(rows[-1].updated_at) == aware(since):
            return found
        since = rows[-1].updated_at
