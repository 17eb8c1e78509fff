"""One call's Media Stream: parse Twilio's events, decode mu-law, feed the recognizer in batches.

No Flask here: the WebSocket view passes raw text frames in (and calls `tick` when none came); results go out
to a listener with started / partial / final / utterance / progress / shed / stopped / fault methods. When the
stream must end, `handle_text` and `tick` return False and `closing` says how the socket is to be closed.

Overload: recognition runs only while the stream holds one of the machine's recognition slots
(ivr.speech.slots), and stops for good (shed) when it falls more than `limits.max_lag_seconds` behind the
caller. A shed stream still measures voice and looks for machine signs, so the keypad step can tell a caller who
spoke from silence; the keypad routes the call.
"""
import base64
import binascii
import json
import logging
import time

import numpy as np

from ivr.call.stream_limits import LogBudget, StreamLimits
from ivr.call.stream_token import PARAMETER as TOKEN
from ivr.speech.audio import SAMPLE_RATE, mulaw_decode, voiced_seconds
from ivr.telemetry import TRANSCRIPTION_LAG

log = logging.getLogger(__name__)

CONNECTED, START, MEDIA, STOP, MARK, DTMF = "connected", "start", "media", "stop", "mark", "dtmf"
MAX_FRAME_CHARS = 64 * 1024          # a 20 ms media frame is ~300 characters; anything this big is not audio
BATCH_SAMPLES = SAMPLE_RATE // 10    # feed the recognizer 100 ms at a time
EXPECTED_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
NORMAL, GOING_AWAY, POLICY = 1000, 1001, 1008     # WebSocket close codes
OVER_AUDIO_RATE = "media stream over its audio rate"
OVER_FRAME_RATE = "media stream over its frame rate"


class CallMedia:
    """State of one media stream, from `start` to `stop`."""

    def __init__(self, engine, listener, batch_samples=BATCH_SAMPLES, signals=None, clock=time.time,
                 limits=None, monotonic=time.monotonic, slots=None):
        self.engine, self.listener, self.batch_samples = engine, listener, batch_samples
        self.slots, self._slot = slots, None     # ivr.speech.slots.RecognitionSlots; None: recognise without one
        self.signals = signals     # an ivr.screening.machine_signs.AudioSignals, or None: machine signs are not looked for
        self.clock, self._started_at, self._fed = clock, None, 0   # wall clock: compared across processes
        self.limits = limits or StreamLimits.unlimited()
        self.monotonic = monotonic                                # for the limits: never steps back
        self._opened_at = self._last_audio = monotonic()
        self._audio_window, self._frame_window = self.limits.audio_window(), self.limits.frame_window()
        self._log = LogBudget()
        self._audio_samples = 0
        self.closing = (NORMAL, "stop")                           # how the socket is closed once the stream ends
        self.call_sid = None
        self.recognizer = None
        self.stopped = False
        self.skipped = 0
        self.voice_seconds = 0.0
        self._voice_stored = 0.0
        self.transcript = []
        self._buffer = []
        self._buffered = 0
        self._utterance_open = False

    def handle_text(self, text):
        """Handle one text frame; bad frames are logged and skipped. Returns False once the stream stopped."""
        if self.stopped:
            return False
        if not self._frame_window.add(1, self.monotonic()):
            return self._end(POLICY, "frame rate", "too many frames", fault=OVER_FRAME_RATE)
        if not self.tick():
            return False
        if len(text) > MAX_FRAME_CHARS:
            return self._skip(f"oversized frame ({len(text)} characters)")
        try:
            message = json.loads(text)
        except Exception as error:  # noqa: BLE001 - RecursionError on deep nesting, and whatever else a peer finds
            return self._skip(f"frame is not JSON ({type(error).__name__})")
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            return self._skip("frame has no event")
        handler = {CONNECTED: self._connected, START: self._start, MEDIA: self._media, STOP: self._stop,
                   MARK: self._ignored, DTMF: self._ignored}.get(message["event"])
        if handler is None:
            return self._skip(f"unknown event {message['event'][:40]!r}")
        handler(message)
        return not self.stopped

    def tick(self):
        """Check the deadlines (also when no frame came); False once the stream is over them and must close."""
        if self.stopped:
            return False
        now = self.monotonic()
        if self.call_sid is None and now - self._opened_at >= self.limits.start_seconds:
            return self._end(POLICY, "no start", f"no valid start within {self.limits.start_seconds:g} s")
        if self.call_sid is not None and now - self._last_audio >= self.limits.idle_seconds:
            return self._end(GOING_AWAY, "idle", f"no audio for {self.limits.idle_seconds:g} s")
        return True

    def close(self):
        """The socket closed: finish as if `stop` had come (Twilio may drop the socket without it)."""
        if not self.stopped:
            self._stop({})

    def _end(self, code, message, why, fault=None):
        """Stop the stream for `why`; a fault (given for abuse) sends the caller to a human at the keypad step."""
        log.warning("media stream %s: %s; closing", self.call_sid or "(not started)", why)
        if fault and self.call_sid is not None:
            self.listener.fault(self.call_sid, fault)
        self.closing = (code, message)
        self._stop({})
        return False

    def _skip(self, why):
        self.skipped += 1
        now = self.monotonic()
        self._log_held_back(now)
        if self._log.allow(now):
            log.warning("media stream %s: %s; skipped", self.call_sid or "(not started)", why)
        return not self.stopped

    def _log_held_back(self, now, force=False):
        held_back = self._log.take_held_back(now, force)
        if held_back:
            log.warning("media stream %s: %d more bad frames skipped", self.call_sid or "(not started)", held_back)

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
            log.warning("media stream %s: unexpected format %.200r", sid, start.get("mediaFormat"))
        if not sid:
            return self._end(POLICY, "refused", "start names no call")
        if not self.listener.started(sid, params.get(TOKEN)):   # a bad token, or the call may not stream: it logs why
            self.closing, self.stopped = (POLICY, "refused"), True
            return False
        self.call_sid = sid
        self._started_at, self._fed, self._last_audio = self.clock(), 0, self.monotonic()
        if not self._may_recognise(sid):
            return
        try:
            self.recognizer = self.engine.recognizer()
        except Exception as error:  # noqa: BLE001 - any engine failure must not lose the call
            self._fault(f"speech engine failed to start: {error}")

    def _may_recognise(self, sid):
        """False when the call was shed at its answer, or no recognition slot is free now (then it is shed here)."""
        if self.listener.recognition_shed(sid):
            return False
        if self.slots is None:
            return True
        self._slot, why = self.slots.hold(sid)
        if self._slot is None:
            self.listener.shed(sid, f"overload: {why} when the stream started; the keypad decides", "start")
            return False
        return True

    def _shed(self, why):
        """Stop recognising for the rest of the call (its words so far are kept) and give the slot back."""
        self._run(self.recognizer.finish)      # the utterance under way still counts
        if self.recognizer is not None:
            self.recognizer.close()
            self.recognizer = None
        self._release_slot()
        if self._utterance_open:
            self._utterance_open = False
            self.listener.utterance(self.call_sid, False)
        self.listener.shed(self.call_sid, why, "lag")

    def _release_slot(self):
        if self._slot is not None:
            slot, self._slot = self._slot, None
            try:
                slot.release()
            except OSError:     # the lock goes with the file descriptor anyway
                log.exception("media stream %s: releasing recognition slot %d failed", self.call_sid, slot.index)

    def _media(self, message):
        if self.call_sid is None:
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
        if not audio:
            return self._skip("media payload is empty")
        return self._hear(audio)

    def _hear(self, audio):
        """Count valid audio against the stream's limits, then decode it and feed the recognizer."""
        seconds = len(audio) / SAMPLE_RATE
        self._last_audio = now = self.monotonic()
        if not self._audio_window.add(seconds, now):
            return self._end(POLICY, "audio rate", "audio faster than the limit", fault=OVER_AUDIO_RATE)
        if self._audio_samples + len(audio) > self.limits.max_audio_seconds * SAMPLE_RATE:
            return self._end(POLICY, "audio limit", f"over {self.limits.max_audio_seconds:g} s of audio")
        self._audio_samples += len(audio)
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
        self._log_held_back(self.monotonic(), force=True)
        if self.call_sid is None:
            return
        if self._buffered:
            self._feed(self._drain())
        self._machine(lambda: self.signals.finish())
        if self.recognizer is not None:
            self._run(self.recognizer.finish)
        if self.recognizer is not None:
            self.recognizer.close()
        self._release_slot()
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
        lag = max(0.0, self.clock() - heard_until)
        TRANSCRIPTION_LAG.observe(lag)
        if self.recognizer is not None and lag > self.limits.max_lag_seconds:
            self._shed(f"overload: recognition fell {lag:.1f} s behind the caller (limit "
                       f"{self.limits.max_lag_seconds:g} s); stopped recognising, the keypad decides")
        if self.recognizer is not None:
            self.listener.progress(self.call_sid, heard_until, self.voice_seconds)
        elif self.voice_seconds > self._voice_stored:
            # nothing waits for recognition here, and a silent shed stream writes nothing: under overload the
            # database is busy enough; only the voice heard matters (the keypad step tells voice from silence)
            if self.listener.progress(self.call_sid, None, self.voice_seconds):
                self._voice_stored = self.voice_seconds

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
        self._release_slot()
        self._utterance_open = False
        self.listener.fault(self.call_sid, what)
