"""Who may do what: operator sessions, the admin role, CSRF tokens on every form, and the API key."""
import functools
import hmac
import logging
import secrets
from urllib.parse import unquote, urlsplit

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for

from ivr.store import operators

log = logging.getLogger(__name__)

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"


def csrf_token():
    """This session's CSRF token, made on first use (forms render it in a hidden field)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def check_csrf():
    """Abort 400 when an unsafe request lacks this session's token (form field or X-CSRF-Token header)."""
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get(CSRF_FIELD) or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        log.warning("CSRF token missing or wrong on %s %s", request.method, request.path)
        abort(400, description="The form has expired or was not sent by this page. Reload and try again.")


def same_site_path(target, default):
    """TARGET when it is a path on this site, else DEFAULT (for `next` and `back`: never an open redirect)."""
    # browsers read `//evil`, `/\\evil` and `/<tab>/evil` as another host; check the decoded form too
    if isinstance(target, str) and all(_local_path(text) for text in (target, unquote(target))):
        return target
    return default


def _local_path(text):
    if len(text) < 2 or text[0] != "/" or text[1] in "/\\" or "\\" in text:
        return False
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def refuse_nul_bytes():
    """400 for a NUL byte in the path, the query or the form (PostgreSQL refuses them in text: a 500 otherwise)."""
    pairs = list(request.args.items(multi=True))
    if request.method in UNSAFE_METHODS:
        pairs += list(request.form.items(multi=True))
    if "\x00" in request.path or any("\x00" in key or "\x00" in value for key, value in pairs):
        abort(400, description="NUL bytes are not allowed in a request.")


def load_operator():
    """Put the signed-in operator on g (None when signed out, revoked or deactivated since)."""
    g.operator = None
    operator_id = session.get("operator_id")
    if operator_id is not None:
        operator = operators.get(current_app.extensions["ivr.db"], operator_id)
        if operators.session_valid(operator, session.get("epoch")):
            g.operator = operator
        else:
            session.clear()


def require_login():
    """Send a signed-out browser to the login page (event streams get a plain 401)."""
    if g.operator is not None:
        return None
    if request.accept_mimetypes.best == "text/event-stream" or request.method != "GET":
        abort(401)
    return redirect(url_for("web.auth.login", next=request.full_path.rstrip("?")))


def admin_required(view):
    """Only admins; operators get 403."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.operator is None or g.operator.role != "admin":
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def actor():
    """How an action's author is written in the audit log and the reasons."""
    return f"op {g.operator.name}" if getattr(g, "operator", None) is not None else "api"


def check_api_key():
    """401 unless X-API-Key (or a Bearer token, for Prometheus) equals IVR_API_KEY; no key configured = no API."""
    expected = current_app.config["IVR_API_KEY"]
    sent = request.headers.get("X-API-Key", "")
    bearer = request.headers.get("Authorization", "")
    if not sent and bearer.startswith("Bearer "):
        sent = bearer[len("Bearer "):]
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        response = jsonify(error="a valid X-API-Key header is required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="ivr-api"'
        return response
    g.operator = None
    return None


def security_headers(response):
    """No inline script or style, no framing, no sniffing: transcripts are caller-controlled text."""
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if g.get("operator") is not None:
        response.headers.setdefault("Cache-Control", "no-store")
    return response
