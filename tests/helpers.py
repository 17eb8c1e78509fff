"""Helpers shared by tests of several packages: signed webhook steps and their TwiML, Twilio media frames, whole
simulated calls, and signing in to the control room."""
import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from alembic.config import Config

from ivr.call.stream_token import stream_key, token_for
from ivr.speech.audio import mulaw_encode
from ivr.store import calls
from ivr.tools import simulate
from ivr.triage.classifier import Classification
from training.train import ROOT

from conftest import ACCOUNT, FIXTURES, TOKEN, call_params

SPEED = 2.0
PASSWORD = "correct horse battery"


def twiml(response):
    assert response.status_code == 200 and response.mimetype == "text/xml", response.data
    return ET.fromstring(response.data)


def verbs(root):
    return [child.tag for child in root]


def answer(twilio_post, **extra):
    params = call_params(**extra)
    return params["CallSid"], twiml(twilio_post("/voice", params))


def heard(db, sid, text, label=None, confidence=0.0, voice=2.0):
    calls.claim_stream(db, sid)
    if text or label:
        calls.add_final(db, sid, text, voice, Classification(label, confidence, {label: confidence} if label else {}))


def keypad(twilio_post, sid, digit=None, attempt=1):
    return twiml(twilio_post(f"/voice/keypad?attempt={attempt}", {**call_params(sid), "Digits": digit}))


class Recorder:
    """Collects what the stream reports; `known` decides which call ids exist."""

    def __init__(self, known=("CA1",)):
        self.known, self.events = set(known), []

    def started(self, sid, token):
        self.events.append(("started", sid))
        return sid in self.known

    def partial(self, sid, text, voice):
        self.events.append(("partial", text))

    def final(self, sid, text, transcript, voice):
        self.events.append(("final", text, transcript))

    def utterance(self, sid, is_open):
        self.events.append(("utterance", is_open))

    def progress(self, sid, heard_until, voice):
        self.heard_until, self.voice = heard_until, voice
        return True

    def recognition_shed(self, sid):
        return False

    def shed(self, sid, why, stage):
        self.events.append(("shed", stage, why))

    def fault(self, sid, what):
        self.events.append(("fault", what))

    def stopped(self, sid, transcript, voice):
        self.events.append(("stopped", transcript, round(voice, 1)))

    def of(self, kind):
        return [event for event in self.events if event[0] == kind]


def stream_token(config, sid):
    """The token the app puts in the TwiML of call `sid` (ivr.call.stream_token)."""
    return token_for(stream_key(config["SECRET_KEY"], config["TWILIO_AUTH_TOKEN"]), sid)


def start(sid="CA1", token="token", **extra):
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
        "streamSid": "MZ1", "accountSid": "AC1", "callSid": sid, "tracks": ["inbound"],
        "customParameters": {"call_sid": sid, "token": token},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}, **extra}})


def media_frames(pcm):
    data = mulaw_encode(pcm)
    for n, i in enumerate(range(0, len(data), 160), start=2):
        yield json.dumps({"event": "media", "sequenceNumber": str(n), "streamSid": "MZ1",
                          "media": {"track": "inbound", "chunk": str(n - 1), "timestamp": str((n - 1) * 20),
                                    "payload": base64.b64encode(data[i:i + 160]).decode()}})


def place(live_server, stand_in, *args, speed=SPEED):
    argv = ["--url", live_server.url, "--auth-token", TOKEN, "--account-sid", ACCOUNT,
            "--speed", str(speed), *args]
    outcome = simulate.simulate(simulate.parse_args(argv), stand_in=stand_in)
    assert outcome["errors"] == [], outcome
    stored = calls.get_call(live_server.app.extensions["ivr.db"], outcome["call_sid"])
    return outcome, stored


def wav(name):
    return str(FIXTURES / "audio" / f"{name}.wav")


def token_from(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, name, password=PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token_from(page.text)})


def csrf(client):
    return token_from(client.get("/").text)


def alembic_config(database_url):
    """Alembic's configuration for DATABASE_URL, without touching the test run's logging."""
    return Config(str(ROOT / "alembic.ini"), attributes={"database_url": database_url, "configure_logger": False})


AXE = Path(__file__).resolve().parent / "web" / "vendor" / "axe.min.js"


def accessibility_violations(page):
    """axe-core's serious and critical violations on a Playwright page (rule id: the nodes' selectors)."""
    page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return {v["id"]: [n["target"] for n in v["nodes"]] for v in result["violations"]
            if v["impact"] in ("serious", "critical")}
