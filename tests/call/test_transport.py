"""The media-stream WebSocket over a real socket: signature on the upgrade, bad frames, clean closes."""
import base64
import json
import time

import pytest
import websocket

from ivr.store import calls

from conftest import call_params, sign
from helpers import stream_token


def connect(live_server, signature=None):
    url = live_server.url.replace("http://", "ws://") + "/media"
    signature = sign(url, {}) if signature is None else signature
    return websocket.create_connection(url, header={"X-Twilio-Signature": signature}, timeout=10)


def open_call(live_server, sid):
    calls.open_call(live_server.app.extensions["ivr.db"], sid, "+919812345678", "+15005550001")


def start_frame(live_server, sid, token=None):
    token = stream_token(live_server.app.config, sid) if token is None else token
    return json.dumps({"event": "start", "streamSid": "MZ1", "start": {
        "callSid": sid, "streamSid": "MZ1", "accountSid": "AC1", "tracks": ["inbound"],
        "customParameters": {"call_sid": sid, "token": token},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


def silence_frame():
    return json.dumps({"event": "media", "streamSid": "MZ1",
                       "media": {"track": "inbound", "payload": base64.b64encode(b"\xff" * 160).decode()}})


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("signature", ["", "forged", sign("ws://elsewhere/media", {})])
def test_upgrade_with_a_bad_signature_is_refused_with_403(live_server, signature):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(live_server, signature)
    assert refused.value.status_code == 403


def test_upgrade_signature_uses_the_public_url(live_server):
    live_server.app.config["PUBLIC_URL"] = "https://ivr.example.org"
    with pytest.raises(websocket.WebSocketBadStatusException):
        connect(live_server)
    ws = connect(live_server, sign("wss://ivr.example.org/media", {}))
    ws.close()


def test_a_healthy_stream_marks_the_call_and_closes_it(live_server):
    sid = "CA" + "a" * 32
    open_call(live_server, sid)
    ws = connect(live_server)
    ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    ws.send(start_frame(live_server, sid))
    for _ in range(50):
        ws.send(silence_frame())
    ws.send(json.dumps({"event": "stop", "stop": {"callSid": sid}}))
    db = live_server.app.extensions["ivr.db"]
    ws.settimeout(5)
    opcode, _ = ws.recv_data(control_frame=True)     # after `stop` the app closes its end of the socket
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    call = calls.get_call(db, sid)
    assert call.stream_started_at is not None and call.heard_until is not None and not call.utterance_open
    ws.shutdown()       # the closing handshake is done: drop the socket


def test_bad_frames_leave_the_socket_healthy(live_server):
    sid = "CA" + "b" * 32
    open_call(live_server, sid)
    ws = connect(live_server)
    bad_frames = ["garbage", "{}", '{"event": "media"}', json.dumps({"event": "media", "media": {"payload": "!!"}}),
                  "y" * 100000, "[" * 30000 + "]" * 30000]
    for bad in bad_frames:
        ws.send(bad)
    ws.send(start_frame(live_server, sid))
    for bad in bad_frames:
        ws.send(bad)
    ws.send(silence_frame())
    ws.ping("still there?")
    opcode, data = ws.recv_data(control_frame=True)
    assert (opcode, data) == (websocket.ABNF.OPCODE_PONG, b"still there?")
    ws.close()


def closed_with(ws):
    """The close code the app sent, reading past anything else."""
    ws.settimeout(10)
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            ws.shutdown()
            return int.from_bytes(data[:2], "big")


def junk_until_closed(ws, frame, seconds=1.0):
    """Send FRAME every 10 ms for up to SECONDS; the close code the app sent, or "reset" when its close raced frames
    still in flight (closing a socket with unread data resets it, and a loaded machine leaves more unread)."""
    ws.settimeout(0.01)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ws.send(frame)
            try:
                opcode, data = ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                ws.shutdown()
                return int.from_bytes(data[:2], "big")
        return closed_with(ws)
    except (BrokenPipeError, ConnectionResetError, websocket.WebSocketConnectionClosedException):
        ws.shutdown()
        return "reset"


def test_start_naming_an_unknown_call_stores_nothing(live_server):
    ws = connect(live_server)
    ws.send(start_frame(live_server, "CA-never-seen"))
    assert closed_with(ws) == 1008
    assert calls.get_call(live_server.app.extensions["ivr.db"], "CA-never-seen") is None


@pytest.mark.parametrize("token", ["", "forged", "token-of-another-call"])
def test_a_start_without_the_calls_token_is_closed_and_stores_nothing(live_server, token):
    """The upgrade's signature covers the URL only: one signed upgrade must not open a stream for any call."""
    sid = "CA" + "d" * 32
    open_call(live_server, sid)
    if token == "token-of-another-call":
        token = stream_token(live_server.app.config, "CA" + "e" * 32)
    ws = connect(live_server)
    ws.send(start_frame(live_server, sid, token))
    assert closed_with(ws) == 1008
    call = calls.get_call(live_server.app.extensions["ivr.db"], sid)
    assert call.stream_started_at is None and call.heard_until is None and call.faults == []


def test_a_second_stream_for_a_call_is_refused_and_the_first_goes_on(live_server):
    sid = "CA" + "f" * 32
    open_call(live_server, sid)
    first = connect(live_server)
    first.send(start_frame(live_server, sid))
    db = live_server.app.extensions["ivr.db"]
    started = wait_for(lambda: calls.get_call(db, sid).stream_started_at)
    second = connect(live_server)
    second.send(start_frame(live_server, sid))
    assert closed_with(second) == 1008
    first.send(silence_frame())
    first.ping("still there?")
    assert first.recv_data(control_frame=True) == (websocket.ABNF.OPCODE_PONG, b"still there?")
    first.close()
    assert calls.get_call(db, sid).stream_started_at == started


def test_an_ended_call_gets_no_stream(live_server):
    sid = "CA" + "0" * 32
    open_call(live_server, sid)
    db = live_server.app.extensions["ivr.db"]
    calls.close_call(db, sid, "completed", 30)
    ws = connect(live_server)
    ws.send(start_frame(live_server, sid))
    assert closed_with(ws) == 1008
    assert calls.get_call(db, sid).stream_started_at is None


def test_junk_does_not_keep_a_stream_without_start_open(live_server):
    live_server.app.config["IVR_STREAM_START_SECONDS"] = 0.5
    ws = connect(live_server)
    assert junk_until_closed(ws, '{"event": "mystery"}') in (1008, "reset")   # a second of junk, twice the deadline


def test_junk_does_not_count_as_audio_for_the_idle_limit(live_server):
    live_server.app.config["IVR_STREAM_IDLE_SECONDS"] = 0.5
    sid = "CA" + "1" * 32
    open_call(live_server, sid)
    ws = connect(live_server)
    ws.send(start_frame(live_server, sid))
    assert junk_until_closed(ws, "junk") in (1001, "reset")     # a second of junk, twice the idle limit
    db = live_server.app.extensions["ivr.db"]
    assert wait_for(lambda: calls.get_call(db, sid).heard_until is not None)


def test_audio_faster_than_real_time_is_cut_off_and_the_caller_goes_to_a_human(live_server):
    live_server.app.config["IVR_STREAM_MAX_SPEED"] = 2.0
    sid = "CA" + "2" * 32
    open_call(live_server, sid)
    ws = connect(live_server)
    ws.send(start_frame(live_server, sid))
    for _ in range(1500):                        # 30 s of audio as fast as the socket takes it
        ws.send(silence_frame())
    assert closed_with(ws) == 1008
    db = live_server.app.extensions["ivr.db"]
    assert wait_for(lambda: calls.get_call(db, sid).heard_until is not None)
    assert calls.get_call(db, sid).faults == ["media stream over its audio rate"]
    params = {**call_params(sid), "Digits": "2"}
    url = live_server.url + "/voice/keypad?attempt=1"
    answer = live_server.app.test_client().post("/voice/keypad?attempt=1", data=params, base_url=live_server.url,
                                                headers={"X-Twilio-Signature": sign(url, params)})
    assert "<Number>+15005550100</Number>" in answer.text          # the operator
    assert "fault: media stream over its audio rate" in calls.get_call(db, sid).reasons


def test_oversized_message_closes_the_socket_cleanly(live_server):
    ws = connect(live_server)
    ws.send("z" * (2 * 1024 * 1024))
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1009      # "message too big"
    ws.shutdown()


def test_a_stream_that_goes_quiet_is_closed_and_its_call_settled(live_server):
    """A peer that vanishes without closing (no FIN, no `stop`) must not hold a server thread for ever."""
    live_server.app.config["IVR_STREAM_IDLE_SECONDS"] = 0.5
    sid = "CA" + "c" * 32
    open_call(live_server, sid)
    ws = connect(live_server)
    ws.send(start_frame(live_server, sid))
    ws.send(silence_frame())
    opcode, data = ws.recv_data(control_frame=True)     # then nothing more is sent
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1001      # "going away"
    db = live_server.app.extensions["ivr.db"]
    assert wait_for(lambda: calls.get_call(db, sid).heard_until is not None)
    ws.shutdown()
