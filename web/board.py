"""The live board's pieces: calls in progress, "taking it" claims, and times shown in the control room's zone."""
import logging
from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, request, url_for

from ivr.store import board, calllist, current_db
from web import guard, present
from web.record import local, zone     # one zone for every page: WEB_TIME_ZONE

__all__ = ["bp", "board_dict", "duration", "local", "pinned", "zone", "zone_label"]

log = logging.getLogger(__name__)
bp = Blueprint("board", __name__)


def zone_label():
    """The zone as operators read it in column headings (IST, UTC, ...)."""
    return datetime.now(zone()).tzname() or current_app.config["WEB_TIME_ZONE"]


def duration(seconds):
    """Seconds as m:ss (h:mm:ss from an hour); '' for none."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def board_dict(call):
    """A call as the board sees it: the API's fields plus where it is, whether it is an emergency, who took it."""
    return {**present.call_dict(call), "phase": board.phase(call), "emergency": board.is_emergency(call),
            "claimed_by": call.claimed_by, "claimed_at": present.iso(call.claimed_at),
            "connected_at": present.iso(call.connected_at), "queued_at": present.iso(call.queued_at)}


def pinned(db, wanted, everything):
    """Calls in progress for the board, emergencies first, then newest; only those matching a filtered page."""
    rows = board.in_progress(db)
    if wanted != everything and rows:
        keep = calllist.matching(db, wanted, [call.id for call in rows])
        rows = [call for call in rows if call.id in keep]
    return sorted(rows, key=lambda call: not board.is_emergency(call))     # stable: newest first within each


@bp.post("/calls/<sid>/claim")
def claim(sid):
    """"Taking it": this operator works the call; refused when another operator holds it."""
    call, error = board.claim(current_db(), sid[:64], guard.actor(), guard.g.operator.id)
    back = guard.same_site_path(request.form.get("back"), url_for("web.calls.index"))
    if error:
        flash(f"Not taken: {error}.", "error")
    else:
        log.info("%s is taking %s", guard.actor(), call.sid)
        flash(f"You are taking the call from {call.from_number}.")
    return redirect(back)


@bp.post("/calls/<sid>/release")
def release(sid):
    """Let go of a call this operator took, so another can take it."""
    call, error = board.release(current_db(), sid[:64], guard.actor(), guard.g.operator.id)
    back = guard.same_site_path(request.form.get("back"), url_for("web.calls.index"))
    if error:
        flash(f"Not changed: {error}.", "error")
    else:
        flash(f"You let go of the call from {call.from_number}.")
    return redirect(back)
