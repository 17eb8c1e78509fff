"""The control room: operators' pages (blueprint `bp`, one module per area), the JSON API and /metrics."""
from datetime import timedelta

from flask import Blueprint, current_app, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ivr.store.notify import Changes
from web import (admin, alerts, api, auth, board, callbacks, calls, charts, commands, guard, handover, holds, metrics,
                 queue, settings)

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")
bp.register_blueprint(auth.bp)
bp.register_blueprint(calls.bp)
bp.register_blueprint(handover.bp)
bp.register_blueprint(admin.bp)
bp.register_blueprint(charts.bp)
bp.register_blueprint(callbacks.bp)
bp.register_blueprint(alerts.bp)
bp.register_blueprint(holds.bp)
bp.register_blueprint(queue.bp)
bp.register_blueprint(board.bp)
bp.register_blueprint(settings.bp)

# Reachable without signing in; everything else on this blueprint needs an operator session.
PUBLIC_ENDPOINTS = {"web.health", "web.auth.login", "web.static"}


@bp.before_request
def _guard():
    guard.refuse_nul_bytes()
    guard.load_operator()
    if request.endpoint not in PUBLIC_ENDPOINTS:
        denied = guard.require_login()
        if denied is not None:
            return denied
    guard.check_csrf()
    return None


@bp.after_request
def _headers(response):
    return guard.security_headers(response)


@bp.errorhandler(HTTPException)
def _error_page(error):
    return render_template("error.html", code=error.code, name=error.name, description=error.description), error.code


@bp.app_context_processor
def _template_helpers():
    return {"csrf_token": guard.csrf_token, "operator": g.get("operator"), "local": board.local,
            "duration": board.duration, "zone_label": board.zone_label, "alert_summary": alerts.summary_for_page}


@bp.get("/health")
def health():
    """Database and speech-engine status, for load balancers and the control room."""
    checks = {"speech_engine": current_app.extensions["ivr.speech"].name,
              "classifier": current_app.extensions["ivr.classifier"].version}
    checks["database"] = current_app.extensions["ivr.db"].probe()
    healthy = checks["database"] == "ok"
    return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503


def init_app(app):
    """Register the pages, the API and the metrics (ivr.config.refuse_dev_defaults has vetted SECRET_KEY)."""
    app.permanent_session_lifetime = timedelta(hours=app.config["WEB_SESSION_HOURS"])
    app.extensions["ivr.changes"] = Changes(app.extensions["ivr.db"].engine)
    app.extensions["web.stream_slots"] = calls.StreamSlots()
    app.register_blueprint(bp)
    app.register_blueprint(api.bp)
    metrics.init_app(app)
    app.cli.add_command(commands.operator)
