"""Signing operators in and out."""
import logging
from datetime import timedelta

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from ivr.store import audit, operators
from ivr.store.models import utcnow
from web import guard

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

MAX_FAILURES = 5                    # per name and address, within FAILURE_WINDOW
FAILURE_WINDOW = timedelta(minutes=15)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; on success a fresh session (new CSRF token) and back to where the operator was going."""
    db = current_app.extensions["ivr.db"]
    first_run = operators.count(db) == 0
    if request.method == "GET":
        return render_template("login.html", first_run=first_run, next=request.args.get("next", ""))
    name = request.form.get("name", "").strip()[:64]
    attempt = f"{name}@{request.remote_addr}"
    if audit.count_since(db, "login.failed", attempt, utcnow() - FAILURE_WINDOW) >= MAX_FAILURES:
        log.warning("sign-in for %r from %s refused: too many failures", name, request.remote_addr)
        return render_template("login.html", first_run=first_run, next="",
                               error="Too many failed sign-ins. Wait 15 minutes or ask an admin."), 429
    operator = operators.authenticate(db, name, request.form.get("password", "")[:1024])
    if operator is None:
        log.warning("failed sign-in for %r from %s", name, request.remote_addr)
        audit.add(db, "anonymous", "login.failed", attempt)
        return render_template("login.html", first_run=first_run, next=request.form.get("next", ""),
                               error="Wrong name or password."), 401
    session.clear()
    session.permanent = True
    session["operator_id"] = operator.id
    guard.csrf_token()
    log.info("operator %s signed in", operator.name)
    return redirect(guard.same_site_path(request.form.get("next"), url_for("web.calls.index")))


@bp.post("/logout")
def logout():
    """Forget the session."""
    session.clear()
    return redirect(url_for("web.auth.login"))
