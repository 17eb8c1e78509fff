"""The hold queue's page: who is waiting, in serving order, and "take next caller" (dialled to the operator)."""
import logging

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for

from ivr.call import hold
from ivr.store import current_db, waiting
from web import guard, present

log = logging.getLogger(__name__)
bp = Blueprint("queue", __name__)


@bp.get("/queue")
def index():
    """Callers waiting in the hold queue, next first, with priority, class, flags and time waited."""
    return render_template("queue.html", rows=[present.waiting_dict(call, n)
                                               for n, call in enumerate(waiting.waiting(current_db()), start=1)])


def operator_target():
    """Where a caller this operator takes is dialled: their phone or SIP address, else ROUTE_OPERATOR."""
    operator = g.get("operator")
    return (operator.phone if operator is not None else None) or current_app.config["ROUTE_OPERATOR"]


@bp.post("/queue/next")
def take_next():
    """Take the highest-priority waiting caller and dial them to this operator (audited)."""
    target = operator_target()
    call, error = hold.take_next(current_db(), current_app.extensions["ivr.live"], current_app.config,
                                 guard.actor(), target, g.operator.id)
    if call is None:
        flash("Nobody is waiting.")
    elif error:
        flash(f"Could not connect {call.from_number}: {error}. The caller is still waiting.", "error")
    else:
        flash(f"Connecting {call.from_number} to {target}.")
    return redirect(url_for(".index"))
