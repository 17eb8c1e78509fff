"""Blank-call holds in the control room: the watch-list and blocks in force, lifted or extended by operators."""
import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ivr.screening.numbers import normalise_number
from ivr.store import actions, current_db, holds
from ivr.store.models import utcnow
from web import guard
from web.callbacks import form_id

log = logging.getLogger(__name__)
bp = Blueprint("holds", __name__)
MAX_EXTEND_HOURS = 24 * 30


def extend_hours(raw):
    """Hours to extend a hold by, from a form or JSON, or None when it is not a whole number in range."""
    raw = str(raw if raw is not None else "").strip()
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_EXTEND_HOURS else None


@bp.get("/holds")
def index():
    """Blocks and watch-list entries in force, blocks first."""
    return render_template("holds.html", rows=holds.active_holds(current_db(), utcnow()),
                           max_hours=MAX_EXTEND_HOURS)


@bp.post("/holds/lift")
def lift():
    """Lift a number's block and watch-list entry (audited); its next call is answered as any other."""
    number = normalise_number(request.form.get("number", ""), current_app.config["IVR_DEFAULT_REGION"])
    if number is None:
        flash(f"Not lifted: {request.form.get('number', '')[:40]!r} is not a phone number.", "error")
    elif actions.lift_holds(current_db(), number, guard.actor(), guard.g.operator.id):
        log.info("%s lifted the holds on %s", guard.actor(), number)
        flash(f"Holds on {number} lifted.")
    else:
        flash(f"{number} has no block or watch-list entry in force.", "error")
    return redirect(url_for(".index"))


@bp.post("/holds/extend")
def extend():
    """Keep a hold in force for longer (audited)."""
    hold_id, hours = form_id(request.form.get("id")), extend_hours(request.form.get("hours"))
    if hold_id is None or hours is None:
        flash(f"Not extended: give a hold and 1 to {MAX_EXTEND_HOURS} hours.", "error")
        return redirect(url_for(".index"))
    hold = actions.extend_hold(current_db(), hold_id, hours, guard.actor(), guard.g.operator.id)
    if hold is None:
        flash(f"Not extended: hold {hold_id} is not in force.", "error")
    else:
        flash(f"The {hold.kind} on {hold.number} now lasts until {hold.expires_at:%Y-%m-%d %H:%M} UTC.")
    return redirect(url_for(".index"))
