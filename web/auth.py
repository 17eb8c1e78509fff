"""Signing operators in and out."""
import logging
import secrets
from datetime import timedelta

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from ivr.store import audit, logins, operators
from web import guard

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; on success a fresh session (new CSRF token) and back to where the operator was going."""
    db = current_app.extensions["ivr.db"]
    first_run = operators.count(db) == 0
    if request.method == "GET":
        return render_template("login.html", first_run=first_run, next=request.args.get("next", ""))
    name, address = request.form.get("name", "").strip()[:64], request.remote_addr or ""
    if _throttled(db, name, address):
        minutes = current_app.config["WEB_LOGIN_WINDOW_MINUTES"]
        return render_template("login.html", first_run=first_run, next="",
                               error=f"Too many failed sign-ins. Wait {minutes} minutes or ask an admin."), 429
    operator = operators.authenticate(db, name, request.form.get("password", "")[:1024])
    if operator is None:
        log.warning("failed sign-in for %r from %s", name, address)
        audit.add(db, "anonymous", "login.failed", f"{name}@{address}")
        return render_template("login.html", first_run=first_run, next=request.form.get("next", ""),
                               error="Wrong name or password."), 401
    logins.forgive(db, *logins.keys(name, address), _window())
    _start_session(operator)
    log.info("operator %s signed in", operator.name)
    return redirect(guard.same_site_path(request.form.get("next"), url_for("web.calls.index")))


def _window():
    return timedelta(minutes=current_app.config["WEB_LOGIN_WINDOW_MINUTES"])


def _throttled(db, name, address):
    """Count this attempt; True when its name and address, or its address alone, is over the limit."""
    tries, from_address = logins.claim(db, *logins.keys(name, address), _window())
    over = (tries > current_app.config["WEB_LOGIN_FAILURES"]
            or from_address > current_app.config["WEB_LOGIN_ADDRESS_FAILURES"])
    if over:
        log.warning("sign-in for %r from %s refused: too many failures", name, address)
    return over


def _start_session(operator):
    session.clear()
    session.permanent = True
    session["operator_id"], session["epoch"] = operator.id, operator.session_epoch
    session["sid"] = secrets.token_urlsafe(16)      # names this session's event streams (web.calls.events)
    guard.csrf_token()


@bp.post("/logout")
def logout():
    """Revoke this operator's sessions (every cookie signed so far) and forget this one."""
    operators.revoke_sessions(current_app.extensions["ivr.db"], g.operator.id)
    session.clear()
    return redirect(url_for("web.auth.login"))
