"""Twilio request signatures: one decorator for the webhooks, one check for the WebSocket upgrade."""
import functools
import logging

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


def public_url():
    """The URL Twilio called: PUBLIC_URL + path and query when configured (behind proxies), else the request's."""
    base = current_app.config["PUBLIC_URL"]
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


def websocket_url():
    """The URL Twilio signs for a Media Streams upgrade: ws(s)://host/path, no query string."""
    base = current_app.config["PUBLIC_URL"] or request.host_url.rstrip("/")
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + request.path


def _valid(url, params):
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
    return bool(signature) and validator.validate(url, params, signature)


def twilio_signed(view):
    """Reject (403) any webhook whose X-Twilio-Signature does not match the auth token."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not _valid(public_url(), request.form):
            log.warning("forged or missing Twilio signature on %s from %s", request.path, request.remote_addr)
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def websocket_signed():
    """True when a Media Streams upgrade carries a valid signature (empty params, no query)."""
    return _valid(websocket_url(), {})
