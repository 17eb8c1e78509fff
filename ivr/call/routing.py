"""Routing: the TwiML that carries out a decision, and steering a live call through Twilio's REST API."""
import logging

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, Enqueue, VoiceResponse

from ivr.vocabulary import Route

log = logging.getLogger(__name__)

ANNOUNCE = {
    Route.EMERGENCY: "Connecting you to the emergency desk now. Stay on the line.",
    Route.INQUIRY: "Connecting you to the inquiry desk.",
    Route.COMPLAINT: "Connecting you to the complaints desk.",
    Route.OPERATOR: "Connecting you to a police operator. Please stay on the line.",
}
BLANK_GOODBYE = "We could not hear you. If you need the police, please call again. Goodbye."
WAITING = "All our operators are busy. Please stay on the line; you are number {position}."
WAITING_PLAIN = "All our operators are busy. Please stay on the line."


class Say:
    """The voice and language of everything the line says."""

    def __init__(self, config):
        self.voice, self.language = config["IVR_VOICE"], config["IVR_LANGUAGE"]

    def __call__(self, parent, text):
        parent.say(text, voice=self.voice, language=self.language)


def target_for(route, config):
    """The number or SIP address of a desk (ROUTE_*)."""
    return config[f"ROUTE_{route.upper()}"]


def decision_twiml(route, config, dialled_url=None):
    """The one place a decision becomes TwiML: reject unanswered (the spam list, a policy block), say goodbye
    (a blank call after its second chance), or dial the desk (with `dialled_url`, absolute, hearing how the
    dial ended). A stored Route.HANGUP (history) is carried out as the operator."""
    response = VoiceResponse()
    if route == Route.REJECT:
        response.reject(reason="rejected")
    elif route == Route.BLANK:
        goodbye(response, config, BLANK_GOODBYE)
    else:
        route = route if route.is_desk else Route.OPERATOR
        dial_twiml(response, config, target_for(route, config), dialled_url, ANNOUNCE[route])
    return response


def dial_twiml(response, config, target, dialled_url, announce=ANNOUNCE[Route.OPERATOR]):
    """Say ANNOUNCE and dial TARGET (E.164 or sip:), with `dialled_url` hearing how the dial ended."""
    Say(config)(response, announce)
    dial = Dial(action=dialled_url, method="POST", timeout=config["ROUTE_DIAL_TIMEOUT"])
    if target.startswith("sip:"):
        dial.sip(target)
    else:
        dial.number(target)
    response.append(dial)
    return response


def hold_twiml(config, wait_url, left_url):
    """Put the caller in the hold queue (IVR_QUEUE_NAME): Twilio plays `wait_url` until an operator takes
    them, and posts the QueueResult to `left_url` (both absolute) when they leave."""
    response = VoiceResponse()
    response.append(Enqueue(config["IVR_QUEUE_NAME"], wait_url=wait_url, wait_url_method="POST",
                            action=left_url, method="POST"))
    return response


def wait_twiml(config, position=None):
    """What a waiting caller hears, then a pause; Twilio fetches the wait URL again when it ends."""
    response = VoiceResponse()
    Say(config)(response, WAITING.format(position=position) if position else WAITING_PLAIN)
    response.pause(length=config["IVR_QUEUE_PAUSE_SECONDS"])
    return response


def goodbye(response, config, text):
    """Say TEXT and hang up."""
    Say(config)(response, text)
    response.hangup()
    return response


class LiveCalls:
    """Twilio REST client for live-call updates; its base URL is configurable for local stand-ins."""

    def __init__(self, config):
        self._client = Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"],
                              http_client=TwilioHttpClient(timeout=config["TWILIO_API_TIMEOUT"]))
        self._client.api.base_url = config["TWILIO_API_BASE"]

    def redirect(self, sid, twiml):
        """Replace the TwiML a live call is executing; raises RoutingError when Twilio does not take it."""
        try:
            self._client.calls(sid).update(twiml=str(twiml))
        except (TwilioException, OSError) as error:
            raise RoutingError(f"live update of {sid} failed: {error}") from error

    def fetch(self, sid):
        """Twilio's (status, duration) of a call, None for a 404; RoutingError (TwilioUnreachable: no answer at all)."""
        try:
            call = self._client.calls(sid).fetch()
        except TwilioRestException as error:
            if error.status == 404:
                return None
            if error.status in (401, 403):
                raise TwilioUnreachable(f"Twilio refused our credentials: {error.msg}") from error
            raise RoutingError(f"fetching {sid} failed: {error}") from error
        except OSError as error:
            raise TwilioUnreachable(f"cannot reach Twilio at {self._client.api.base_url}: {error}") from error
        except TwilioException as error:
            raise RoutingError(f"fetching {sid} failed: {error}") from error
        duration = str(call.duration or "")
        return call.status, int(duration) if duration.isdigit() else None


class RoutingError(RuntimeError):
    pass


class TwilioUnreachable(RoutingError):
    """No request reached Twilio's REST API (network, DNS, credentials)."""


def init_app(app):
    app.extensions["ivr.live"] = LiveCalls(app.config)
