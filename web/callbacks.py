"""The callback desk's page: the queue of callers to ring back, and recording each attempt."""
import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ivr.store import callbacks
from ivr.store import current_db
from web import guard
from web.present import priority_name

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__)



def form_id(raw):
    """A record id typed into a form, or None when it is not a positive whole number."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and 0 < len(raw) <= 18 else None


def list_url(endpoint):
    """Back to a queue page after a form post, keeping ?all=1 when the form came from the full list."""
    return url_for(endpoint, all="1") if request.form.get("all") == "1" else url_for(endpoint)


@bp.get("/callbacks")
def queue():
    """The callback queue: pending entries by priority then oldest first; ?all=1 adds finished and given-up ones after them."""
    include_closed = request.args.get("all") == "1"
    rows = callbacks.pending(current_db(), include_closed)
    return render_template("callbacks.html", rows=rows, include_closed=include_closed, outcomes=callbacks.OUTCOMES,
                           priority_name=priority_name)


@bp.post("/callbacks/attempt")
def attempt():
    """Record one attempt to ring a caller back: an outcome from the vocabulary and a note."""
    back = list_url(".queue")
    callback_id, outcome = form_id(request.form.get("id")), request.form.get("outcome", "")
    if callback_id is None:
        flash(f"Not recorded: {request.form.get('id', '')[:20]!r} is not a callback.", "error")
        return redirect(back)
    if outcome not in callbacks.OUTCOMES:
        flash(f"Not recorded: the outcome must be one of {', '.join(callbacks.OUTCOMES)}.", "error")
        return redirect(back)
    entry, recorded = callbacks.record_attempt(current_db(), callback_id, outcome, request.form.get("note", "").strip(),
                                               guard.actor(), current_app.config["SCREEN_CALLBACK_ATTEMPTS"],
                                               guard.g.operator.id)
    if entry is None:
        flash(f"Not recorded: there is no callback {callback_id}.", "error")
    elif not recorded:
        flash(f"Not recorded: callback {callback_id} is already {entry.status}.", "error")
    else:
        log.info("%s: callback %s attempt %s %s", guard.actor(), entry.id, entry.attempts, outcome)
        flash(f"Callback {entry.id} ({entry.number}): attempt {entry.attempts} {outcome}; now {entry.status}.")
    return redirect(back)
