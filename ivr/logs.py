"""Log lines name the call they concern: the CallSid of the current webhook or media stream, "-" outside one."""
import logging
from contextvars import ContextVar

from flask import request

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(call_sid)s]: %(message)s"
_call_sid = ContextVar("call_sid", default=None)


def bind(sid):
    """Name SID on every log line from here to the end of this request (or of this thread's work)."""
    _call_sid.set(sid or None)


class CallSidFilter(logging.Filter):
    """Adds `call_sid` to each record a handler emits."""

    def filter(self, record):
        record.call_sid = _call_sid.get() or "-"
        return True


def handler(stream=None):
    """A stream handler writing FORMAT, CallSid included."""
    out = logging.StreamHandler(stream)
    out.setFormatter(logging.Formatter(FORMAT))
    out.addFilter(CallSidFilter())
    return out


def _bind_webhook():
    bind(request.form.get("CallSid", "")[:64] if request.blueprint == "voice" else None)


def init_app(app):
    """Log at LOG_LEVEL with the CallSid on each line; webhooks name theirs before their view runs."""
    logging.basicConfig(level=app.config["LOG_LEVEL"], handlers=[handler()])
    app.before_request(_bind_webhook)
    app.teardown_request(lambda _error: bind(None))
