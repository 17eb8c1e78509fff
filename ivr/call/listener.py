"""What the app does with a call's speech: store it, classify it, and route a clear emergency at once."""
import dataclasses
import functools
import logging
import time

from ivr.call import flow, routing
from ivr.call.stream_token import stream_key, token_matches
from ivr.screening import robocall
from ivr.screening.machine_signs import FINGERPRINT
from ivr.triage.extract import extract
from ivr.store import calls
from ivr.telemetry import RECOGNITION_SHED
from ivr.triage.classifier import NO_CLASS, ModelError
from ivr.triage.reconcile import Thresholds, reconcile
from ivr.vocabulary import Flag

log = logging.getLogger(__name__)

PARTIAL_EVERY_SECONDS = 0.5
EARLY = "early: routed while the caller was speaking"


def guarded(method):
    """A storage or routing error is logged and counted as a fault; it must not kill the media stream."""

    @functools.wraps(method)
    def wrapper(self, sid, *args):
        try:
            return method(self, sid, *args)
        except Exception:  # noqa: BLE001 - the keypad step still routes the caller, to a human if need be
            log.exception("%s for %s failed", method.__name__, sid)
            self.errors += 1
            return None

    return wrapper


class CallListener:
    """Receives one stream's results (see ivr.call.media.CallMedia) and acts on them."""

    def __init__(self, db, classifier, live, config, dialled_urls, fingerprints=None):
        self.db, self.classifier, self.live, self.config = db, classifier, live, config
        self.fingerprints = fingerprints   # the process's FingerprintIndex (ivr.screening.robocall); None: not matched
        self.thresholds = Thresholds.from_config(config)
        self.dialled_urls = dialled_urls   # absolute Dial action URL per route (live updates need absolute URLs)
        self.stream_key = stream_key(config["SECRET_KEY"], config["TWILIO_AUTH_TOKEN"])
        self._last_partial = 0.0
        self._last_progress = 0.0
        self.errors = 0

    @guarded
    def started(self, sid, token):
        """True if a stream may start for call `sid`: its token is the call's, and the call is live and has no
        stream yet. A refusal is logged here, once."""
        if not token_matches(self.stream_key, sid, token):
            log.warning("media stream for %r refused: its token is not the call's", sid)
            return False
        if not calls.claim_stream(self.db, sid):
            log.warning("media stream for %s refused: the call is unknown, has ended or already has a stream", sid)
            return False
        return True

    @guarded
    def partial(self, sid, text, voice_seconds):
        now = time.monotonic()
        if now - self._last_partial >= PARTIAL_EVERY_SECONDS:
            self._last_partial = now
            calls.set_partial(self.db, sid, text, voice_seconds)

    @guarded
    def progress(self, sid, heard_until, voice_seconds):
        """How far recognition has got through the caller's audio (None: nothing to wait for), and the voice in it;
        written at most every half second. True when written."""
        now = time.monotonic()
        if now - self._last_progress < PARTIAL_EVERY_SECONDS:
            return False
        self._last_progress = now
        calls.set_heard(self.db, sid, heard_until, voice_seconds)
        return True

    @guarded
    def recognition_shed(self, sid):
        """True when the call's recognition was shed already (at /voice: its caller hears the keypad menu only)."""
        call = calls.get_call(self.db, sid)
        return call is not None and Flag.SPEECH_SHED in (call.flags or {})

    @guarded
    def shed(self, sid, why, stage):
        """Recognition is shed for this call (overload): flagged with why; the keypad routes it."""
        log.warning("%s: speech recognition shed: %s", sid, why)
        RECOGNITION_SHED.labels(stage).inc()
        calls.add_flag(self.db, sid, Flag.SPEECH_SHED, why)
        calls.set_heard(self.db, sid, None)      # no recognition left for the keypad step to wait for

    @guarded
    def utterance(self, sid, is_open):
        calls.set_utterance_open(self.db, sid, is_open)

    @guarded
    def final(self, sid, text, transcript, voice_seconds):
        """Store the utterance with the classification of everything said so far; route an emergency now."""
        try:
            reading = self.classifier.classify(transcript)
        except ModelError as error:    # no model loaded: start-up logged why and the fix; no traceback per call
            log.error("classifier unavailable on %s: the caller goes to the operator", sid)
            calls.add_fault(self.db, sid, f"classifier unavailable: {error}")
            reading = NO_CLASS
        except Exception as error:  # noqa: BLE001 - a broken classifier sends the caller to a human
            log.exception("classifier failed on %s", sid)
            calls.add_fault(self.db, sid, f"classifier failed: {error}")
            reading = NO_CLASS
        calls.add_final(self.db, sid, text, voice_seconds, reading, extract(transcript))
        if reading.label == "emergency" and reading.confidence >= self.thresholds.emergency:
            self.route_now(sid, reading)

    def route_now(self, sid, reading):
        """Claim the decision and steer the live call to the emergency desk before the keypad menu."""
        decision = reconcile(None, reading, self.thresholds)
        decision = dataclasses.replace(decision, reasons=decision.reasons + (EARLY,))
        if not flow.claim(self.db, sid, decision, self.config, early=True):
            return
        twiml = routing.decision_twiml(decision.route, self.config, self.dialled_urls[decision.route])
        try:
            self.live.redirect(sid, twiml)
            log.info("%s routed early to %s (%s)", sid, decision.route, reading.reason)
        except routing.RoutingError as error:
            log.error("%s; the keypad step will decide", error)
            calls.release_decision(self.db, sid, decision.reasons, decision.flags, f"early route failed: {error}")

    @guarded
    def machine(self, sid, finding):
        """A sign of a machine in the caller's audio (tone, talk-over) or the audio fingerprint."""
        if finding.flag == FINGERPRINT and self.fingerprints is None:
            return None
        return robocall.on_finding(self.db, self.fingerprints, sid, finding, self.config)

    @guarded
    def fault(self, sid, what):
        if sid:
            calls.add_fault(self.db, sid, what)

    @guarded
    def stopped(self, sid, transcript, voice_seconds):
        calls.close_call(self.db, sid, None, end_stream=True)
        calls.set_heard(self.db, sid, time.time(), voice_seconds)   # nothing more will come: nobody waits for it
        log.info("stream for %s stopped: %.1f s of voice, transcript %r", sid, voice_seconds, transcript[:200])
