"""Media Streams WebSocket: transport only. Frames go to a per-call ivr.call.media.CallMedia."""
import logging

from flask import Blueprint, abort, current_app, request
from flask_sock import ConnectionClosed, Sock

from ivr import logs
from ivr.call.listener import CallListener
from ivr.call.media import NORMAL, CallMedia
from ivr.call.signatures import websocket_signed
from ivr.call.stream_limits import StreamLimits
from ivr.call.urls import dialled_urls
from ivr.screening.machine_signs import AudioSignals

log = logging.getLogger(__name__)
bp = Blueprint("stream", __name__)
sock = Sock()


@bp.before_request
def check_signature():
    """flask-sock answers the upgrade inside the view, so a forged one must be refused before it (403)."""
    if not websocket_signed():
        log.warning("forged or missing signature on media-stream upgrade from %s", request.remote_addr)
        abort(403)


@sock.route("/media", bp=bp)
def media(ws):
    """Receive Twilio's JSON frames until `stop`, the socket closes, or the stream breaks its limits."""
    app = current_app._get_current_object()
    listener = CallListener(app.extensions["ivr.db"], app.extensions["ivr.classifier"], app.extensions["ivr.live"],
                            app.config, dialled_urls(), app.extensions.get("ivr.fingerprints"))
    signals = AudioSignals(app.config["SCREEN_FINGERPRINT_SECONDS"], app.config["SCREEN_PROMPT_SECONDS"]) \
        if app.config["SCREEN_ENABLED"] else None
    limits = StreamLimits.from_config(app.config)
    call = CallMedia(app.extensions["ivr.speech"], listener, signals=signals, limits=limits,
                     slots=app.extensions["ivr.slots"])
    wait, named = min(limits.start_seconds, limits.idle_seconds, 1.0), None
    try:
        while True:
            # short waits: simple-websocket can drop the wake-up when it closes the socket itself (1009)
            frame = ws.receive(timeout=wait)
            if frame is None:
                if not ws.connected or not call.tick():
                    break
                continue
            if not call.handle_text(frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame):
                break
            if call.call_sid and named is None:
                named = call.call_sid
                logs.bind(named)    # every later line of this stream names its call
        code, message = call.closing
        if ws.connected and code != NORMAL:
            ws.close(reason=code, message=message)
    except ConnectionClosed:
        log.info("media stream %s: socket closed", call.call_sid)
    finally:
        call.close()
