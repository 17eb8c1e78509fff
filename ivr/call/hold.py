"""The hold queue from the call path: an operator takes the next caller, who is steered to them live."""
import logging

from twilio.twiml.voice_response import VoiceResponse

from ivr.call import routing
from ivr.call.urls import dialled_url
from ivr.store import waiting
from ivr.vocabulary import Route

log = logging.getLogger(__name__)


def take_next(db, live, config, by, target, operator_id=None):
    """Take the caller at the head of the queue for BY and dial TARGET for them by a live-call update.

    Returns (call, error): (None, None) when nobody waits; when Twilio does not take the update, the caller is
    given back (they keep their place) and the error is returned. Needs a request context (absolute URLs)."""
    call = waiting.take_next(db, by, operator_id)
    if call is None:
        return None, None
    twiml = routing.dial_twiml(VoiceResponse(), config, target, dialled_url(Route.OPERATOR))
    try:
        live.redirect(call.sid, twiml)
    except Exception as error:  # noqa: BLE001 - whatever failed, the caller must not be left taken by nobody
        log.warning("%s took %s but the live update failed: %s; caller back in the queue", by, call.sid, error)
        waiting.give_back(db, call.sid, by, str(error), operator_id)
        return call, str(error) or type(error).__name__
    log.info("%s took %s from the hold queue: dialling %s", by, call.sid, target)
    return call, None
