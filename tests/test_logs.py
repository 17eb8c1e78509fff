"""Every log line of the call path names its CallSid ("-" outside a call)."""
import io
import json
import logging
import time

import pytest

from ivr import logs
from ivr.store import calls

from conftest import call_params
from call.test_transport import connect, open_call, start_frame


@pytest.fixture
def lines():
    """The log lines written through the app's handler while the test runs."""
    stream, root = io.StringIO(), logging.getLogger()
    handler, level = logs.handler(stream), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_webhook_names_its_call_on_every_line_and_none_after(twilio_post, lines):
    twilio_post("/voice/status", call_params(CallSid="CAlost1", CallStatus="completed"))
    logging.getLogger("ivr.test").warning("after the request")
    assert lines() == ["WARNING ivr.call.webhooks [CAlost1]: status callback for unknown call 'CAlost1'",
                       "WARNING ivr.test [-]: after the request"]


def test_a_media_stream_names_its_call_once_started(live_server, lines):
    sid = "CA" + "b" * 32
    open_call(live_server, sid)
    ws = connect(live_server)
    ws.send(start_frame(live_server, sid))
    ws.send(json.dumps({"event": "media", "media": "not an object"}))
    ws.close()
    deadline = time.monotonic() + 5
    while not any("skipped" in line for line in lines()) and time.monotonic() < deadline:
        time.sleep(0.05)
    skipped = [line for line in lines() if "skipped" in line]
    assert skipped and skipped[0].startswith(f"WARNING ivr.call.media [{sid}]: media stream {sid}: ")
    assert calls.get_call(live_server.app.extensions["ivr.db"], sid).stream_started_at is not None
