"""Routing: TwiML for each route, and steering a live call through Twilio's REST API."""
import logging

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

log = logging.getLogger(__name__)

DESKS = ("emergency", "inquiry", "complaint", "operator")
ANNOUNCE = {
    "emergency": "Connecting you to the emergency desk now. Stay on the line.",
    "inquiry": "Connecting you to the inquiry desk.",
    "complaint": "Connecting you to the complaints desk.",
    "operator": "Connecting you to a police operator. Please stay on the line.",
}
NOT_FOR_THIS_LINE = "This line is for police emergencies only. Goodbye."
BLANK_GOODBYE = "We could not hear you. If you need the police, please call again. Goodbye."
OPERATOR_ATTEMPTS = 3


class Say:
    """The voice and language of everything the line says."""

    def __init__(self, config):
        self.voice, self.language = config["IVR_VOICE"], config["IVR_LANGUAGE"]

    def __call__(self, parent, text):
        parent.say(text, voice=self.voice, language=self.language)


def target_for(route, config):
    return config[f"ROUTE_{route.upper()}"]


def dial_twiml(route, config, dialled_url, announce=True):
    """Dial a desk; `dialled_url` (absolute, with route and attempt) hears how the dial ended."""
    response = VoiceResponse()
    if announce:
        Say(config)(response, ANNOUNCE[route])
    dial = Dial(action=dialled_url, method="POST", timeout=config["ROUTE_DIAL_TIMEOUT"])
    target = target_for(route, config)
    if target.startswith("sip:"):
        dial.sip(target)
    else:
        dial.number(target)
    response.append(dial)
    return response


def goodbye_twiml(config, text):
    response = VoiceResponse()
    Say(config)(response, text)
    response.hangup()
    return response


def reject_twiml():
    response = VoiceResponse()
    response.reject(reason="rejected")
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


class RoutingError(RuntimeError):
    pass


def init_app(app):
    app.extensions["ivr.live"] = LiveCalls(app.config)
