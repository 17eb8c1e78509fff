"""Absolute URLs for TwiML: live-call updates and Twilio's stream need them (PUBLIC_URL when set)."""
from urllib.parse import urlsplit

from flask import current_app, request, url_for

from ivr.vocabulary import DESKS


def external(endpoint, **values):
    """Absolute URL of ENDPOINT, on PUBLIC_URL when configured (behind proxies), else the request's host."""
    target = urlsplit(url_for(endpoint, **values))   # websocket rules build as ws://host/... already
    base = current_app.config["PUBLIC_URL"] or request.host_url.rstrip("/")
    return base + target.path + (f"?{target.query}" if target.query else "")


def stream_url():
    return external("stream.media").replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def dialled_url(route):
    """Where Twilio posts how a dial to ROUTE's desk ended."""
    return external("voice.dialled", route=str(route))


def dialled_urls():
    """The dial action URL of every desk, worked out while a request is at hand (the media stream's listener
    routes from its own thread)."""
    return {route: dialled_url(route) for route in DESKS}
