"""Admin pages: the spam list (search, remove) and the audit log."""
import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from ivr.screening.numbers import normalise_number
from ivr.store import actions, audit, current_db, spam
from web import guard

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__)

PER_PAGE = 100
MAX_PAGE = 1000


def _page():
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, description=f"page must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


@bp.get("/spam")
@guard.admin_required
def spam_list():
    """The spam list with search."""
    text = request.args.get("q", "").strip()[:64]
    page = _page()
    rows = spam.search(current_db(), text, page, PER_PAGE)
    return render_template("spam.html", rows=rows[:PER_PAGE], more=len(rows) > PER_PAGE, q=text, page=page)


@bp.post("/spam/remove")
@guard.admin_required
def spam_remove():
    """Take a number off the spam list; its calls are answered again."""
    raw = request.form.get("number", "")
    number = normalise_number(raw, current_app.config["IVR_DEFAULT_REGION"])
    if number is None or not actions.remove_spam(current_db(), number, guard.actor(),
                                                 guard.g.operator.id):
        flash(f"{raw[:40]!r} is not on the spam list.", "error")
    else:
        log.info("%s removed %s from the spam list", guard.actor(), number)
        flash(f"{number} removed from the spam list.")
    return redirect(url_for(".spam_list"))


@bp.get("/audit")
@guard.admin_required
def audit_log():
    """Every action, newest first: who, what, when, before and after."""
    page = _page()
    rows = audit.recent(current_db(), page, PER_PAGE)
    return render_template("audit.html", rows=rows[:PER_PAGE], more=len(rows) > PER_PAGE, page=page)
