"""The flood-alerts page: alerts on dialled lines, worked new -> investigating -> closed with notes."""
import logging

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from ivr.store import floods
from ivr.store import current_db
from web import guard
from web.callbacks import form_id, list_url

log = logging.getLogger(__name__)
bp = Blueprint("alerts", __name__)



@bp.get("/alerts")
def index():
    """Flood alerts, open ones first, newest first; ?all=1 includes closed ones."""
    include_closed = request.args.get("all") == "1"
    rows = floods.alerts(current_db(), include_closed)
    return render_template("alerts.html", rows=rows, include_closed=include_closed, transitions=floods.TRANSITIONS)


def summary_for_page():
    """The header badge's first value, rendered with every page (the page script then polls /alerts/summary)."""
    if g.get("operator") is None:
        return None
    try:
        return _summary()
    except SQLAlchemyError:     # a page still renders while the database hiccups; the poll catches up
        log.warning("alert summary unavailable for the header badge")
        return None


def _summary():
    open_count, new_count, newest = floods.open_summary(current_db())
    return {"open": open_count, "new": new_count, "newest": newest,
            "poll_ms": int(current_app.config["WEB_ALERTS_POLL_SECONDS"] * 1000)}


@bp.get("/alerts/summary")
def summary():
    """Open and new alerts and the newest id, for the badge every page shows (polled: one indexed count)."""
    return jsonify(_summary())


@bp.post("/alerts/move")
def move():
    """Move an alert along its workflow with a note."""
    back = list_url(".index")
    alert_id, status = form_id(request.form.get("id")), request.form.get("status", "")
    if alert_id is None:
        flash(f"Not changed: {request.form.get('id', '')[:20]!r} is not a flood alert.", "error")
        return redirect(back)
    alert, error = floods.move(current_db(), alert_id, status, request.form.get("note", "").strip(), guard.actor(),
                               guard.g.operator.id)
    if error:
        flash(f"Not changed: {error}.", "error")
    else:
        log.info("%s moved flood alert %s to %s", guard.actor(), alert.id, alert.status)
        flash(f"Flood alert {alert.id} on {alert.line} is now {alert.status}.")
    return redirect(back)
