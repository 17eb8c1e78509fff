"""Call simulator: place a call against a running app the way Twilio would, and print the outcome as JSON.

    python -m ivr.tools.simulate --say "there is a fire at twelve main street" --digit 1
    python -m ivr.tools.simulate --wav tests/fixtures/audio/inquiry_fir.wav --digit 2
    python -m ivr.tools.simulate --silence
    python -m ivr.tools.simulate --silence --digit 1 --dial-status no-answer,no-answer,completed

It posts signed webhooks, follows the TwiML verb by verb (Say and Pause take their spoken time), streams
the caller's audio as 8 kHz mu-law Media Streams frames over a signed WebSocket, presses keys at <Gather>,
ends each <Dial> with the next --dial-status, waits in an <Enqueue> queue (fetching its wait URL again and
again) until a live update takes the caller out or --queue-hangup seconds pass, and runs a local stand-in for
Twilio's REST API so live-call updates reach it (start the app with TWILIO_API_BASE=http://127.0.0.1:<api-port>).
"""
import argparse
import base64
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import websocket
from twilio.request_validator import RequestValidator

from ivr.speech.audio import SAMPLE_RATE, mulaw_encode, read_wav, to_telephone
from ivr.config import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN

FRAME_BYTES = 160            # 20 ms of 8 kHz mu-law, as Twilio sends it
WORDS_PER_SECOND = 2.6       # how long a <Say> takes
DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")
SILENCE = b"\xff" * FRAME_BYTES


class ApiStandIn:
    """A local stand-in for Twilio's REST API that records live-call updates and answers GETs of calls whose
    status a test set in `calls` (sid -> {"status", "duration"}); any other call is a 404, as at Twilio."""

    def __init__(self, port, account_sid, auth_token):
        self._queues = {}
        self.calls = {}
        self._lock = threading.Lock()
        expected = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.headers.get("Authorization") != expected:
                    return self._reply(401, {"code": 20003, "message": "Authenticate"})
                sid = self.path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
                stand_in.updates(sid).put({"sid": sid, "form": form, "at": time.monotonic()})
                return self._reply(200, {"sid": sid, "account_sid": account_sid, "status": "in-progress"})

            def do_GET(self):
                if self.headers.get("Authorization") != expected:
                    return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                sid = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
                known = stand_in.calls.get(sid)
                if known is None:
                    return self._reply(404, {"code": 20404, "status": 404,
                                             "message": f"The requested resource /Calls/{sid}.json was not found"})
                duration = known.get("duration")
                return self._reply(200, {"sid": sid, "account_sid": account_sid, "status": known["status"],
                                         "duration": None if duration is None else str(duration)})

            def _reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def updates(self, sid):
        """The queue of live updates sent to one call."""
        with self._lock:
            return self._queues.setdefault(sid, queue.Queue())

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CallerAudio:
    """The caller's side of the line: silence, then the utterance once the prompt has been heard."""

    def __init__(self, pcm):
        self.speech = mulaw_encode(pcm) if pcm is not None and len(pcm) else b""
        self.speak = threading.Event()
        self.speech_ended_at = None

    def frames(self):
        """Yield 20 ms frames forever: silence until told to speak, then the speech, then silence."""
        position = 0
        while True:
            if self.speak.is_set() and position < len(self.speech):
                frame = self.speech[position:position + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff")
                position += FRAME_BYTES
                if position >= len(self.speech):
                    self.speech_ended_at = time.monotonic()
                yield frame
            else:
                yield SILENCE


class MediaStream(threading.Thread):
    """A unidirectional Twilio Media Stream: connected, start, media every 20 ms, stop."""

    def __init__(self, url, call_sid, account_sid, auth_token, parameters, audio, speed):
        super().__init__(daemon=True)
        self.url, self.call_sid, self.account_sid = url, call_sid, account_sid
        self.parameters, self.audio, self.speed = parameters, audio, speed
        self.stream_sid = "MZ" + secrets.token_hex(16)
        signature = RequestValidator(auth_token).compute_signature(url, {})
        self.ws = websocket.create_connection(url, header={"X-Twilio-Signature": signature}, timeout=10)
        self.done = threading.Event()
        self.error = None

    def run(self):
        try:
            self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            self._send({"event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid, "start": {
                "streamSid": self.stream_sid, "accountSid": self.account_sid, "callSid": self.call_sid,
                "tracks": ["inbound"], "customParameters": self.parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": SAMPLE_RATE, "channels": 1}}})
            started, sequence = time.monotonic(), 2
            for chunk, frame in enumerate(self.audio.frames(), start=1):
                if self.done.is_set():
                    break
                self._send({"event": "media", "sequenceNumber": str(sequence), "streamSid": self.stream_sid,
                            "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * 20),
                                      "payload": base64.b64encode(frame).decode()}})
                sequence += 1
                delay = started + chunk * 0.02 / self.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self._send({"event": "stop", "sequenceNumber": str(sequence), "streamSid": self.stream_sid,
                        "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})
        except (OSError, websocket.WebSocketException) as error:
            self.error = f"media stream: {error}"
        finally:
            self.ws.close()

    def _send(self, message):
        self.ws.send(json.dumps(message))

    def stop(self):
        self.done.set()
        self.join(timeout=30)


class SimulatedCall:
    """Follow the app's TwiML like Twilio does, and record what happened."""

    def __init__(self, args, audio, stand_in):
        self.args, self.audio, self.stand_in = args, audio, stand_in
        self.sid = "CA" + secrets.token_hex(16)
        self.validator = RequestValidator(args.auth_token)
        self.digits = list(args.digit or "")
        self.prompt_digit = args.prompt_digit or ""
        self.dial_statuses = list(args.dial_status)
        self.stream = None
        self.started = time.monotonic()
        self.outcome = {"call_sid": self.sid, "from": args.from_number, "to": args.to_number, "result": None,
                        "route_target": None, "routed_by": None, "live_updates": 0, "verbs": [], "said": [],
                        "digits_sent": [], "dials": [], "errors": []}
        self._last_action = "voice"

    def run(self):
        """Place the call; return the outcome dict."""
        document = self.post(self.args.url.rstrip("/") + "/voice", {})
        try:
            while document is not None and len(self.outcome["verbs"]) < 200:
                document = self.execute(document)
        finally:
            self.hang_up()
        return self.outcome

    def post(self, url, extra):
        """POST a signed webhook like Twilio; return the TwiML root element (or None)."""
        params = {"CallSid": self.sid, "AccountSid": self.args.account_sid, "From": self.args.from_number,
                  "To": self.args.to_number, "CallStatus": "in-progress", "Direction": "inbound",
                  "ApiVersion": "2010-04-01", **extra}
        request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), method="POST",
                                         headers={"X-Twilio-Signature": self.validator.compute_signature(url, params)})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                body = response.read()
        except OSError as error:
            self.outcome["errors"].append(f"POST {url}: {error}")
            return None
        return ET.fromstring(body) if body.strip() else None

    def execute(self, document):
        """Run one TwiML document; return the next document (action, redirect or live update) or None."""
        if document.tag != "Response":
            self.outcome["errors"].append(f"TwiML root is {document.tag}")
            return None
        for verb in document:
            self.outcome["verbs"].append(verb.tag)
            handler = getattr(self, f"_verb_{verb.tag.lower()}", None)
            nxt = handler(verb) if handler else None
            if nxt is not None:
                return nxt if isinstance(nxt, ET.Element) else None
        return None

    def wait(self, seconds):
        """Let simulated time pass; a live-call update ends the wait and becomes the next document."""
        try:
            update = self.stand_in.updates(self.sid).get(timeout=max(seconds / self.args.speed, 0))
        except queue.Empty:
            return None
        self.outcome["live_updates"] += 1
        self.outcome["routed_by"] = "live-update"
        if self.audio.speech_ended_at is not None:
            self.outcome["speech_end_to_update_seconds"] = round(update["at"] - self.audio.speech_ended_at, 3)
        twiml = update["form"].get("Twiml")
        return ET.fromstring(twiml) if twiml else ET.fromstring("<Response><Hangup/></Response>")

    def _verb_say(self, verb):
        text = (verb.text or "").strip()
        self.outcome["said"].append(text)
        nxt = self.wait(max(1.0, len(text.split()) / WORDS_PER_SECOND))
        if self.stream is not None:
            self.audio.speak.set()   # the caller answers the prompt once it has been said
        return nxt

    def _verb_pause(self, verb):
        return self.wait(float(verb.get("length", 1)))

    def _verb_start(self, verb):
        stream = verb.find("Stream")
        if stream is None or self.stream is not None:
            return None
        parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
        try:
            self.stream = MediaStream(stream.get("url"), self.sid, self.args.account_sid, self.args.auth_token,
                                      parameters, self.audio, self.args.speed)
        except (OSError, websocket.WebSocketException) as error:
            self.outcome["errors"].append(f"media stream refused: {error}")
            return None
        self.stream.start()
        return None

    def _verb_gather(self, verb):
        if verb.get("actionOnEmptyResult") != "true":
            return self._listening(verb)
        digit = self.digits.pop(0) if self.digits else ""
        digit = "" if digit == "-" else digit
        menu = " ".join((say.text or "").strip() for say in verb.findall("Say"))
        self.outcome["said"].append(menu)
        # A caller who knows the key presses it a couple of seconds into the menu; others hear it out, then say
        # what they have to say (if they have not yet) and wait.
        if digit:
            nxt = self.wait(2.0)
        else:
            nxt = self.wait(len(menu.split()) / WORDS_PER_SECOND)
            if nxt is None and self.stream is not None:
                self.audio.speak.set()
            nxt = nxt if nxt is not None else self.wait(float(verb.get("timeout", 5)))
        if nxt is not None:
            return nxt
        self.outcome["digits_sent"].append(digit)
        if not digit and verb.get("actionOnEmptyResult") != "true":
            return None
        self.outcome["routed_by"] = "keypad"
        return self._follow(verb.get("action"), {"Digits": digit} if digit else {})

    def _listening(self, verb):
        """The prompt and listening window (a Gather that falls through): the caller talks, or presses a key."""
        prompt = " ".join((say.text or "").strip() for say in verb.findall("Say"))
        self.outcome["said"].append(prompt)
        digit, self.prompt_digit = self.prompt_digit, ""
        nxt = self.wait(max(1.0, len(prompt.split()) / WORDS_PER_SECOND))
        if self.stream is not None:
            self.audio.speak.set()   # the caller answers the prompt once it has been said
        if nxt is not None:
            return nxt
        if digit:
            self.outcome["digits_sent"].append(digit)
            self.outcome["routed_by"] = "keypad"
            return self._follow(verb.get("action"), {"Digits": digit})
        return self.wait(float(verb.get("timeout", 5)))

    def _verb_redirect(self, verb):
        return self._follow((verb.text or "").strip(), {})

    def _verb_dial(self, verb):
        """Ring the target; the call ends with the next --dial-status (default completed), posted to the action."""
        target = verb.find("Number") if verb.find("Number") is not None else verb.find("Sip")
        target = (target.text or "").strip() if target is not None else None
        status = self.dial_statuses.pop(0) if self.dial_statuses else "completed"
        dial = {"target": target, "status": status}
        self.outcome["dials"].append(dial)
        self.outcome["route_target"] = target
        if status in ("completed", "answered"):
            self.outcome["result"] = "dialled"
            if verb.get("action"):
                self._follow(verb.get("action"), {"DialCallStatus": status, "DialCallDuration": "30"})
            return "end"
        nxt = self.wait(float(verb.get("timeout", 30)) if status == "no-answer" else 1.0)
        if nxt is not None or not verb.get("action"):
            return nxt
        dial["ended_after_seconds"] = self._elapsed()
        nxt = self._follow(verb.get("action"), {"DialCallStatus": status, "DialCallDuration": "0"})
        dial["answered_after_seconds"] = self._elapsed()    # the app's next TwiML is in hand
        return nxt

    def _elapsed(self):
        """Real seconds since the call started (for measuring the app, not scaled by --speed)."""
        return round(time.monotonic() - self.started, 4)

    def _verb_enqueue(self, verb):
        """Wait in a queue: play the wait URL's TwiML again and again until a live update takes the caller out
        (Twilio then posts QueueResult=redirected), or --queue-hangup seconds pass (QueueResult=hangup)."""
        entered, limit = time.monotonic(), self.args.queue_hangup
        deadline = entered + limit / self.args.speed if limit is not None else None
        self.outcome["queue_waits"] = 0
        while deadline is None or time.monotonic() < deadline:
            queued = str(int((time.monotonic() - entered) * self.args.speed))
            document = self._follow(verb.get("waitUrl"), {"QueuePosition": "1", "QueueTime": queued,
                                                          "AvgQueueTime": "0", "CurrentQueueSize": "1"})
            self.outcome["queue_waits"] += 1
            playable = isinstance(document, ET.Element) and len(document)
            nxt = self._play_wait(document, deadline) if playable else self.wait(1.0)
            if nxt is not None:
                self.outcome["taken_after_seconds"] = self._elapsed()
                self._left_queue(verb, "redirected", entered)
                return nxt
        self._left_queue(verb, "hangup", entered)
        self.outcome["result"] = "hangup"
        return "end"

    def _play_wait(self, document, deadline):
        """Play wait TwiML (Say, Pause), cut short at the caller's deadline; a live update ends it."""
        for verb in document:
            if verb.tag == "Say":
                text = (verb.text or "").strip()
                if not self.outcome["said"] or self.outcome["said"][-1] != text:
                    self.outcome["said"].append(text)
                seconds = max(1.0, len(text.split()) / WORDS_PER_SECOND)
            elif verb.tag == "Pause":
                seconds = float(verb.get("length", 1))
            else:
                self.outcome["errors"].append(f"wait TwiML verb {verb.tag} is not simulated")
                return self.wait(1.0)
            if deadline is not None:
                seconds = min(seconds, max(deadline - time.monotonic(), 0) * self.args.speed)
            nxt = self.wait(seconds)
            if nxt is not None:
                return nxt
        return None

    def _left_queue(self, verb, result, entered):
        queued = round((time.monotonic() - entered) * self.args.speed, 2)
        self.outcome["queued_seconds"], self.outcome["queue_result"] = queued, result
        if verb.get("action"):
            self.post(urllib.parse.urljoin(self.args.url.rstrip("/") + "/voice", verb.get("action")),
                      {"QueueResult": result, "QueueTime": str(int(queued))})

    def _verb_hangup(self, verb):
        self.outcome["result"] = self.outcome["result"] or "hangup"
        return "end"

    def _verb_reject(self, verb):
        self.outcome["result"] = "rejected"
        return "end"

    def _follow(self, url, extra):
        if not url:
            return None
        return self.post(urllib.parse.urljoin(self.args.url.rstrip("/") + "/voice", url), extra) or "end"

    def hang_up(self):
        if self.stream is not None:
            self.stream.stop()
            if self.stream.error:
                self.outcome["errors"].append(self.stream.error)
        duration = int(time.monotonic() - self.started)
        self.outcome["duration_seconds"] = duration
        self.outcome["result"] = self.outcome["result"] or "ended"
        self.post(self.args.url.rstrip("/") + "/voice/status",
                  {"CallStatus": "completed", "CallDuration": str(duration)})


def speak(text, engine=None):
    """Speak text with a local TTS (flite, else espeak-ng) and return 8 kHz int16 samples."""
    engine = engine or ("flite" if shutil.which("flite") else "espeak-ng")
    if not shutil.which(engine):
        raise SystemExit("simulate: --say needs flite or espeak-ng (apt-get install flite)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "say.wav")
        command = [engine, "-voice", "slt", "-t", text, "-o", path] if engine == "flite" else [engine, "-w", path, text]
        subprocess.run(command, check=True, capture_output=True)
        rate, pcm = read_wav(path)
    return to_telephone(pcm, rate)


def caller_audio(args):
    if args.say:
        return CallerAudio(speak(args.say, args.tts))
    if args.wav:
        rate, pcm = read_wav(args.wav)
        return CallerAudio(to_telephone(pcm, rate))
    return CallerAudio(np.zeros(0, dtype=np.int16))


def dial_statuses(raw):
    """--dial-status: comma-separated DialCallStatus values."""
    statuses = [item.strip() for item in raw.split(",") if item.strip()]
    wrong = [status for status in statuses if status not in DIAL_STATUSES]
    if wrong:
        raise argparse.ArgumentTypeError(f"{', '.join(wrong)}: each must be one of {', '.join(DIAL_STATUSES)}")
    return statuses


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    voice = parser.add_mutually_exclusive_group()
    voice.add_argument("--say", help="what the caller says (spoken by flite or espeak-ng)")
    voice.add_argument("--wav", help="caller audio from a mono WAV file (PCM16 or mu-law, any rate)")
    voice.add_argument("--silence", action="store_true", help="a blank call: the caller says nothing (default)")
    parser.add_argument("--digit", default="", help="keys pressed at successive menus; '-' skips one (e.g. -5)")
    parser.add_argument("--prompt-digit", default="", help="key pressed during the opening prompt (5: cannot speak)")
    parser.add_argument("--dial-status", type=dial_statuses, default=[],
                        help="how successive <Dial>s end, comma-separated (e.g. no-answer,no-answer,completed); "
                             "the rest end completed")
    parser.add_argument("--queue-hangup", type=float, metavar="SECONDS",
                        help="hang up after waiting this long in a queue (default: wait until taken)")
    parser.add_argument("--url", default=os.environ.get("SIMULATE_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--from", dest="from_number", default="+919812345678")
    parser.add_argument("--to", dest="to_number", default="+15005550001")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("SIMULATE_API_PORT", 5055)),
                        help="port of the REST stand-in (the app's TWILIO_API_BASE must point here)")
    parser.add_argument("--speed", type=float, default=1.0, help="run faster than real time (e.g. 2)")
    parser.add_argument("--tts", choices=("flite", "espeak-ng"))
    parser.add_argument("--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID", DEV_ACCOUNT_SID))
    parser.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN", DEV_AUTH_TOKEN))
    args = parser.parse_args(argv)
    if not args.speed > 0:
        parser.error("--speed must be positive")
    return args


def simulate(args, stand_in=None):
    """Run one simulated call and return its outcome (a stand-in can be shared across calls)."""
    own = stand_in is None
    stand_in = stand_in or ApiStandIn(args.api_port, args.account_sid, args.auth_token)
    try:
        return SimulatedCall(args, caller_audio(args), stand_in).run()
    finally:
        if own:
            stand_in.close()


def main(argv=None):
    outcome = simulate(parse_args(argv))
    json.dump(outcome, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if outcome["result"] and not outcome["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
