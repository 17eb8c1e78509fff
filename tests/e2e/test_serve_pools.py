"""bin/serve's two gunicorn pools: /media goes to the media pool, at a lower CPU priority, and everything else to
the web pool, so a signed /voice answers at once while recognition pegs the media pool; one Prometheus folder for
both, so /metrics (answered by the web pool) counts the media pool's figures too."""
import json
import os
import subprocess
import time

import pytest
import websocket
from prometheus_client.mmap_dict import MmapedDict

from conftest import call_params, sign
from test_serve import API_KEY, MEDIA_NICE, Served, request, signed_post

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory, stand_in):
    server = Served(tmp_path_factory.mktemp("pools"), stand_in)
    yield server
    server.close()


def pool_workers(server):
    """{"web": pids, "media": pids}: the workers of bin/serve's two gunicorn masters, told apart by their sockets."""
    pools = {}
    for master in _children(server.process.pid):
        with open(f"/proc/{master}/cmdline", "rb") as handle:
            bind = next((arg for arg in handle.read().split(b"\0") if arg.startswith(b"unix:")), b"")
        if bind.endswith((b"/web.sock", b"/media.sock")):
            pools[bind.rsplit(b"/", 1)[1].split(b".")[0].decode()] = _children(master)
    return pools


def _children(pid):
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return {int(child) for child in done.stdout.split()}


def _stat(pid):
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()     # from field 3 (state) on: proc(5)'s N is [N - 3]


def per_process(folder, metric, sample):
    """{pid: sum of SAMPLE's values} of METRIC in the shared Prometheus folder (one file per process and kind; a
    histogram keeps its buckets uncumulated there, so their sum is its count)."""
    sums = {}
    for path in folder.glob("*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            name, sample_name, _, _ = json.loads(key)
            if (name, sample_name) == (metric, sample):
                sums[pid] = sums.get(pid, 0.0) + value
    return {pid: value for pid, value in sums.items() if value}


def test_media_streams_go_to_the_media_pool_and_webhooks_to_the_web_pool(served):
    pools = pool_workers(served)
    assert len(pools["web"]) == 1 and len(pools["media"]) == 2 and not pools["web"] & pools["media"]
    assert signed_post(served.port, "/voice", call_params())[0] == 200
    answered = per_process(served.metrics, "ivr_webhook_duration_seconds", "ivr_webhook_duration_seconds_bucket")
    assert answered and set(answered) <= pools["web"]
    url = f"ws://127.0.0.1:{served.port}/media"
    stream = websocket.create_connection(url, header={"X-Twilio-Signature": sign(url, {})}, timeout=10)
    try:
        streaming = per_process(served.metrics, "ivr_active_media_streams", "ivr_active_media_streams")
        assert list(streaming.values()) == [1.0] and set(streaming) <= pools["media"]
        # one shared folder: /metrics, answered by the web pool, counts the media pool's stream
        status, _, body = request(served.port, "GET", "/metrics", headers={"X-API-Key": API_KEY})
        assert status == 200 and "\nivr_active_media_streams 1.0\n" in body.decode()
    finally:
        stream.close()


def test_media_workers_run_at_the_configured_lower_priority(served):
    pools, own = pool_workers(served), int(_stat(os.getpid())[16])       # proc(5) field 19: nice
    assert {int(_stat(pid)[16]) for pid in pools["web"]} == {own}
    assert {int(_stat(pid)[16]) for pid in pools["media"]} == {min(19, own + MEDIA_NICE)}


def timed_voice(port):
    """Seconds a signed /voice took to answer with its TwiML."""
    started = time.monotonic()
    status, root = signed_post(port, "/voice", call_params())
    assert status == 200 and root.find("Start/Stream") is not None
    return time.monotonic() - started


def test_a_signed_voice_answers_at_once_while_recognition_pegs_the_media_pool(tmp_path, stand_in):
    flag = tmp_path / "peg"
    server = Served(tmp_path, stand_in, "tests.e2e.pegged_app:create()", PEG_FILE=str(flag), MEDIA_CONCURRENCY="3")
    try:
        for _ in range(3):
            timed_voice(server.port)            # warm-up: the worker's first database connections
        media = pool_workers(server)["media"]
        burnt = -sum(int(_stat(pid)[11]) + int(_stat(pid)[12]) for pid in media)     # utime + stime, ticks
        flag.touch()
        time.sleep(1.0)
        answers = [timed_voice(server.port) for _ in range(10)]
        burnt += sum(int(_stat(pid)[11]) + int(_stat(pid)[12]) for pid in media)
        flag.unlink()
    finally:
        server.close()
    # the stand-in ran in the media workers, and no /voice waited for it: each of its C calls holds the GIL for
    # 0.4 s or more, so in a web worker /voice took 0.5 s at the median and up to 1.8 s (10 to 50 ms here)
    assert burnt / os.sysconf("SC_CLK_TCK") > 0.5
    assert sorted(answers)[len(answers) // 2] < 0.3 and max(answers) < 1.0, answers
