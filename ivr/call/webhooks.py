"""Twilio voice webhooks: thin views that read the form, call the flow, and answer TwiML."""
import logging

from flask import Blueprint, Response, abort, current_app, request
from twilio.twiml.voice_response import Gather, Start, VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr.call import flow, routing
from ivr.call.flow import Step
from ivr.call.routing import Say
from ivr.call.signatures import twilio_signed
from ivr.call.stream_token import PARAMETER as TOKEN, stream_key, token_for
from ivr.call.urls import dialled_url, external, stream_url
from ivr.store import calls, waiting
from ivr.triage.reconcile import Decision
from ivr.vocabulary import DESKS, Route

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/voice")

PROMPT = "Police control room. Please tell us briefly what has happened. If you cannot speak, press 5."
MENU = ("If this is an emergency, press 1. For an inquiry, press 2. To make a complaint, press 3. "
        "If you cannot speak, press 5.")
KEYPAD_ONLY = "Police control room. " + MENU
SILENT_RETRY = "We cannot hear you. If you need help and cannot speak, press 5 now."
GATE = ("Police control room. To reach the police, press 1, or say what has happened. "
        "If you cannot speak, press 5.")
GATE_RETRY = ("We cannot hear you. To reach the police, press 1, or speak now. "
              "If you need help and cannot speak, press 5 now.")
SIDS_MAX = 64


def twiml(response, status=200):
    return Response(str(response), status=status, mimetype="text/xml")


def _sid():
    return (request.form.get("CallSid") or "").strip()[:SIDS_MAX]


@bp.post("")
@twilio_signed
def incoming():
    """A call comes in: screen it, then reject it or answer with stream + prompt + keypad menu."""
    sid = _sid()
    if not sid:
        log.warning("incoming call without CallSid: sending it to the operator")
        return route_response(Decision(Route.OPERATOR))
    verdict = flow.incoming(current_app.extensions["ivr.db"], sid, request.form.get("From"),
                            request.form.get("To"), current_app.config["IVR_DEFAULT_REGION"],
                            request.form.get("StirVerstat"), current_app.config)
    if verdict.action == "reject":
        log.info("rejected %s from %s: %s", sid, verdict.number, "; ".join(verdict.reasons))
        return route_response(Decision(Route.REJECT))
    # a gated call reserves one too: through the gate it gets the normal answer, which listens for words
    listen = flow.reserve_recognition(current_app.extensions["ivr.db"], sid, current_app.extensions["ivr.slots"])
    if verdict.action == "gate":
        response = VoiceResponse()
        response.append(stream_start(sid))      # the gate listens: a caller who speaks is a person too
        return twiml(menu_twiml(GATE, 1, "voice.gate", response))
    return twiml(answer_twiml(sid, listen=listen))


def stream_start(sid):
    """<Start><Stream>: the caller's audio to our WebSocket, the call id and its stream token in <Parameter>s
    (once per call; Twilio's signature on the upgrade does not cover them, the token does)."""
    config, start = current_app.config, Start()
    stream = start.stream(url=stream_url(), track="inbound_track")
    stream.parameter(name="call_sid", value=sid)
    stream.parameter(name=TOKEN, value=token_for(stream_key(config["SECRET_KEY"], config["TWILIO_AUTH_TOKEN"]), sid))
    return start


def menu_twiml(text, attempt, endpoint, response=None):
    """A one-key menu whose action hears the key or its absence, with a redirect to it as the fall-through."""
    response = response or VoiceResponse()
    response.append(keypad_gather(text, attempt, endpoint))
    response.redirect(external(endpoint, attempt=attempt), method="POST")
    return response


@bp.post("/gate")
@twilio_signed
def gate():
    """The keypad gate finished: through to the normal answer on 1, operator on 5, else retry or blank."""
    attempt, step = _menu_step(flow.after_gate)
    if step is Step.PASS:     # the gate's stream is still listening
        return twiml(answer_twiml(_sid(), stream=False, listen=flow.recognising(current_app.extensions["ivr.db"],
                                                                                 _sid())))
    if step is Step.RETRY:
        return twiml(menu_twiml(GATE_RETRY, attempt + 1, "voice.gate"))
    return route_response(step)


def _menu_step(after):
    """Run a menu's flow step on the key pressed (or none); returns (attempt, the step's Decision or Step)."""
    attempt = flow.clean_attempt(request.args.get("attempt"))
    return attempt, after(current_app.extensions["ivr.db"], _sid(), flow.clean_digit(request.form.get("Digits")),
                          attempt, current_app.config)


def answer_twiml(sid, stream=True, listen=True):
    """Stream (unless the gate's already runs), the spoken prompt with its listening window, the keypad menu.
    Without recognition (LISTEN false: overload) nobody would hear the caller's words, so the menu comes at once;
    the stream still tells voice from silence."""
    config, say = current_app.config, Say(current_app.config)
    response = VoiceResponse()
    if stream:
        response.append(stream_start(sid))
    if not listen:
        return menu_twiml(KEYPAD_ONLY, 1, "voice.keypad", response)
    # The listening window is a keypad Gather, so a caller who cannot speak can press 5 at once; when no key
    # comes it falls through (no actionOnEmptyResult) to the menu while the stream keeps listening.
    listening = Gather(input="dtmf", num_digits=1, timeout=config["IVR_LISTEN_SECONDS"],
                       action=external("voice.keypad", attempt=1), method="POST")
    say(listening, PROMPT)
    response.append(listening)
    response.append(keypad_gather(MENU, attempt=1))
    response.redirect(external("voice.keypad", attempt=1), method="POST")
    return response


def keypad_gather(text, attempt, endpoint="voice.keypad"):
    gather = Gather(input="dtmf", num_digits=1, timeout=current_app.config["IVR_KEYPAD_TIMEOUT"],
                    action=external(endpoint, attempt=attempt), method="POST", action_on_empty_result=True)
    Say(current_app.config)(gather, text)
    return gather


@bp.post("/keypad")
@twilio_signed
def keypad():
    """The keypad menu finished (with or without a digit): decide the call."""
    attempt, step = _menu_step(flow.after_keypad)
    if step is Step.RETRY:
        return twiml(menu_twiml(SILENT_RETRY, attempt + 1, "voice.keypad"))
    return route_response(step)


def route_response(decision):
    """The TwiML that carries out DECISION."""
    route = decision.route
    return twiml(routing.decision_twiml(route, current_app.config, dialled_url(route) if route.is_desk else None))


@bp.post("/dialled")
@twilio_signed
def dialled():
    """A dial ended: done if answered; a desk that did not answer passes the caller to the operator, and an
    operator who did not answer (once) puts them in the hold queue, never a goodbye (DESIGN principle 1)."""
    route = Route(request.args["route"]) if request.args.get("route") in DESKS else Route.OPERATOR
    step = flow.after_dial(current_app.extensions["ivr.db"], _sid(), route, request.form.get("DialCallStatus", ""))
    if step is Step.DONE:
        response = VoiceResponse()
        response.hangup()
        return twiml(response)
    if step is Step.HOLD:
        return twiml(routing.hold_twiml(current_app.config, external("voice.wait"), external("voice.left_queue")))
    return route_response(step)


@bp.post("/wait")
@twilio_signed
def wait():
    """The hold queue's wait URL: the caller's place in our priority order, then a pause; never a fault."""
    try:
        place = waiting.position(current_app.extensions["ivr.db"], _sid())
    except Exception:  # noqa: BLE001 - the caller keeps waiting; the plain message needs no database
        log.exception("queue position of %s unknown: plain wait message", _sid())
        place = None
    return twiml(routing.wait_twiml(current_app.config, place))


@bp.post("/left-queue")
@twilio_signed
def left_queue():
    """The caller left the hold queue (Enqueue action, with QueueResult): record it; a caller still on the line
    for any other reason than being taken goes to the operator."""
    step = flow.after_queue(current_app.extensions["ivr.db"], _sid(), (request.form.get("QueueResult") or "")[:32])
    return twiml(VoiceResponse()) if step is Step.DONE else route_response(step)


@bp.post("/status")
@twilio_signed
def status():
    """Status callback: record final status and duration (idempotent, any order)."""
    duration = request.form.get("CallDuration", "")
    if duration and not (duration.isascii() and duration.isdigit() and len(duration) < 9):
        abort(400, description="CallDuration must be a whole number of seconds")     # str.isdigit() takes "²"
    call = calls.close_call(current_app.extensions["ivr.db"], _sid(), (request.form.get("CallStatus") or "")[:20],
                            int(duration) if duration else None, end_stream=True)
    if call is None:
        log.warning("status callback for unknown call %r", _sid())
    else:
        flow.after_status(current_app.extensions["ivr.db"], call)
        if call.status in calls.FINAL_STATUSES:     # a call that ended before its stream frees its reserved slot
            current_app.extensions["ivr.slots"].cancel(call.sid)
    return Response(status=204)


@bp.post("/fallback")
@twilio_signed
def fallback():
    """Twilio's fallback URL: the primary webhook failed, so a human takes the call (no database needed)."""
    return route_response(Decision(Route.OPERATOR))


@bp.errorhandler(Exception)
def fault(error):
    """Principle 1: an internal fault sends the caller to a human, never a dropped call."""
    if isinstance(error, HTTPException):
        return error
    log.exception("fault in %s: caller goes to the operator", request.path)
    if request.endpoint == "voice.status":
        return Response(status=500)
    if request.endpoint == "voice.wait":      # wait TwiML cannot <Dial>: the caller keeps their place
        return twiml(routing.wait_twiml(current_app.config))
    return route_response(Decision(Route.OPERATOR, ("fault: webhook error",)))
