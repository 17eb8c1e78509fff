"""One call's Media Stream: parse Twilio's events, decode mu-law, feed the recognizer in batches.

No Flask here: the WebSocket view passes raw text frames in; results go out to a listener with
started / partial / final / utterance / stopped / fault methods.
"""
import base64
import binascii
import json
import logging
import time

import numpy as np

from ivr.speech.audio import SAMPLE_RATE, mulaw_decode, voiced_seconds
from ivr.telemetry import TRANSCRIPTION_LAG

log = logging.getLogger(__name__)

CONNECTED, START, MEDIA, STOP, MARK, DTMF = "connected", "start", "media", "stop", "mark", "dtmf"
MAX_FRAME_CHARS = 64 * 1024          # a 20 ms media frame is ~300 characters; anything this big is not audio
BATCH_SAMPLES = SAMPLE_RATE // 10    # feed the recognizer 100 ms at a time
EXPECTED_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}


class CallMedia:
    """State of one media stream, from `start` to `stop`."""

    def __init__(self, engine, listener, batch_samples=BATCH_SAMPLES, signals=None, clock=time.time):
        self.engine, self.listener, self.batch_samples = engine, listener, batch_samples
        self.signals = signals     # an ivr.screening.machine_signs.AudioSignals, or None: machine signs are not looked for
        self.clock, self._started_at, self._fed = clock, None, 0   # wall clock: compared across processes
        self.call_sid = None
        self.recognizer = None
        self.stopped = False
        self.skipped = 0
        self.voice_seconds = 0.0
        self.transcript = []
        self._buffer = []
        self._buffered = 0
        self._utterance_open = False

    def handle_text(self, text):
        """Handle one text frame; bad frames are logged and skipped. Returns False once the stream stopped."""
        if len(text) > MAX_FRAME_CHARS:
            return self._skip(f"oversized frame ({len(text)} characters)")
        try:
            message = json.loads(text)
        except (ValueError, TypeError):
            return self._skip("frame is not JSON")
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            return self._skip("frame has no event")
        handler = {CONNECTED: self._connected, START: self._start, MEDIA: self._media, STOP: self._stop,
                   MARK: self._ignored, DTMF: self._ignored}.get(message["event"])
        if handler is None:
            return self._skip(f"unknown event {message['event'][:40]!r}")
        handler(message)
        return not self.stopped

    def close(self):
        """The socket closed: finish as if `stop` had come (Twilio may drop the socket without it)."""
        if not self.stopped:
            self._stop({})

    def _skip(self, why):
        self.skipped += 1
        log.warning("media stream %s: %s; skipped", self.call_sid or "(not started)", why)
        return not self.stopped

    def _connected(self, message):
        log.debug("media stream connected (protocol %s)", message.get("protocol"))

    def _ignored(self, message):
        pass

    def _start(self, message):
        start = message.get("start")
        if not isinstance(start, dict) or self.call_sid is not None:
            return self._skip("start without a start object, or a second start")
        params = start.get("customParameters") if isinstance(start.get("customParameters"), dict) else {}
        sid = str(params.get("call_sid") or start.get("callSid") or "")[:64]
        if start.get("mediaFormat", EXPECTED_FORMAT) != EXPECTED_FORMAT:
            log.warning("media stream %s: unexpected format %r", sid, start.get("mediaFormat"))
        if not sid or not self.listener.started(sid):
            return self._skip(f"start names an unknown call {sid!r}")
        self.call_sid = sid
        self._started_at, self._fed = self.clock(), 0
        try:
            self.recognizer = self.engine.recognizer()
        except Exception as error:  # noqa: BLE001 - any engine failure must not lose the call
            self._fault(f"speech engine failed to start: {error}")

    def _media(self, message):
        if self.call_sid is None or self.stopped:
            return self._skip("media before start")
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            return self._skip("media without a payload")
        if media.get("track", "inbound") != "inbound":
            return None
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return self._skip("media payload is not base64")
        pcm = mulaw_decode(audio)
        self._machine(lambda: self.signals.feed(pcm))
        self.voice_seconds += voiced_seconds(pcm)
        self._buffer.append(pcm)
        self._buffered += len(pcm)
        if self._buffered >= self.batch_samples:
            self._feed(self._drain())
        return None

    def _stop(self, message):
        if self.stopped:
            return
        self.stopped = True
        if self.call_sid is None:
            return
        if self._buffered:
            self._feed(self._drain())
        self._machine(lambda: self.signals.finish())
        if self.recognizer is not None:
            self._run(self.recognizer.finish)
        if self.recognizer is not None:
            self.recognizer.close()
        self.listener.stopped(self.call_sid, " ".join(self.transcript), self.voice_seconds)

    def _machine(self, step):
        """Machine-sign analysis is advisory: a failure is logged, never a fault that reroutes the caller."""
        if self.signals is None:
            return
        try:
            findings = step()
        except Exception:  # noqa: BLE001 - speech and routing go on without it
            log.exception("media stream %s: machine-sign analysis failed; switched off for this call", self.call_sid)
            self.signals = None
            return
        for finding in findings:
            self.listener.machine(self.call_sid, finding)

    def _drain(self):
        pcm = np.concatenate(self._buffer)
        self._buffer, self._buffered = [], 0
        return pcm

    def _feed(self, pcm):
        if self.recognizer is not None:
            self._run(lambda: self.recognizer.accept(pcm))
        self._fed += len(pcm)
        heard_until = self._started_at + self._fed / SAMPLE_RATE
        TRANSCRIPTION_LAG.observe(max(0.0, self.clock() - heard_until))
        self.listener.progress(self.call_sid, heard_until)

    def _run(self, step):
        try:
            results = step()
        except Exception as error:  # noqa: BLE001 - the caller goes to a human, the fault is recorded
            self._fault(f"speech engine failed: {error}")
            return
        for result in results:
            if result.final:
                self.transcript.append(result.text)
                self._utterance_open = False
                self.listener.final(self.call_sid, result.text, " ".join(self.transcript), self.voice_seconds)
            else:
                self.listener.partial(self.call_sid, result.text, self.voice_seconds)
        if self.recognizer.in_utterance != self._utterance_open:
            self._utterance_open = self.recognizer.in_utterance
            self.listener.utterance(self.call_sid, self._utterance_open)

    def _fault(self, what):
        log.exception("media stream %s: %s", self.call_sid, what)
        self.recognizer = None
        self._utterance_open = False
        self.listener.fault(self.call_sid, what)
