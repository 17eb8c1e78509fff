"""The media-stream WebSocket over a real socket: signature on the upgrade, bad frames, clean closes."""
import base64
import json
import time

import pytest
import websocket

from ivr.store import calls

from conftest import sign


def connect(live_server, signature=None):
    url = live_server.url.replace("http://", "ws://") + "/media"
    signature = sign(url, {}) if signature is None else signature
    return websocket.create_connection(url, header={"X-Twilio-Signature": signature}, timeout=10)


def open_call(live_server, sid):
    calls.open_call(live_server.app.extensions["ivr.db"], sid, "+919812345678", "+15005550001")


def start_frame(sid):
    return json.dumps({"event": "start", "streamSid": "MZ1", "start": {
        "callSid": sid, "streamSid": "MZ1", "accountSid": "AC1", "tracks": ["inbound"],
        "customParameters": {"call_sid": sid},
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
    ws.send(start_frame(sid))
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
    for bad in ["garbage", "{}", '{"event": "media"}', json.dumps({"event": "media", "media": {"payload": "!!"}}),
                start_frame("CA-unknown"), "y" * 100000]:
        ws.send(bad)
    ws.send(silence_frame())
    ws.ping("still there?")
    opcode, data = ws.recv_data(control_frame=True)
    assert (opcode, data) == (websocket.ABNF.OPCODE_PONG, b"still there?")
    ws.close()


def test_start_naming_an_unknown_call_stores_nothing(live_server):
    ws = connect(live_server)
    ws.send(start_frame("CA-never-seen"))
    for _ in range(10):
        ws.send(silence_frame())
    ws.send(json.dumps({"event": "stop"}))
    ws.close()
    assert calls.get_call(live_server.app.extensions["ivr.db"], "CA-never-seen") is None


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
    ws.send(start_frame(sid))
    ws.send(silence_frame())
    opcode, data = ws.recv_data(control_frame=True)     # then nothing more is sent
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1001      # "going away"
    db = live_server.app.extensions["ivr.db"]
    assert wait_for(lambda: calls.get_call(db, sid).heard_until is not None)
    ws.shutdown()
