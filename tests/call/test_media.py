"""CallMedia, the per-call stream state machine, driven with Twilio's JSON frames and real PocketSphinx."""
import json

import numpy as np
import pytest

from ivr.speech.engines import PocketSphinxEngine
from ivr.speech.audio import read_wav
from ivr.call.media import CallMedia

from conftest import FIXTURES
from helpers import media_frames, Recorder, start



@pytest.fixture(scope="module")
def engine():
    return PocketSphinxEngine()



STOP = json.dumps({"event": "stop", "sequenceNumber": "999", "streamSid": "MZ1", "stop": {"callSid": "CA1"}})


def fixture_pcm(name, pad=0.5):
    _, pcm = read_wav(FIXTURES / "audio" / f"{name}.wav")
    silence = np.zeros(int(8000 * pad), dtype=np.int16)
    return np.concatenate([silence, pcm, silence, silence])


def play(call, pcm, stop=True):
    call.handle_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    call.handle_text(start())
    for frame in media_frames(pcm):
        call.handle_text(frame)
    if stop:
        assert call.handle_text(STOP) is False


def test_speech_becomes_partials_then_a_final_transcript(engine):
    listener = Recorder()
    call = CallMedia(engine, listener)
    play(call, fixture_pcm("emergency_fire"))
    finals = listener.of("final")
    assert len(finals) >= 1 and "fire" in finals[-1][2]
    assert len(listener.of("partial")) >= 3
    first_partial = listener.events.index(listener.of("partial")[0])
    assert first_partial < listener.events.index(finals[0])
    assert listener.of("utterance")[0] == ("utterance", True)
    assert listener.events[-1][0] == "stopped" and "fire" in listener.events[-1][1]
    assert 3.0 < listener.events[-1][2] < 6.0
    assert call.skipped == 0


def test_silence_gives_no_words_and_no_voice(engine):
    listener = Recorder()
    play(CallMedia(engine, listener), np.zeros(8000 * 3, dtype=np.int16))
    assert listener.of("final") == [] and listener.of("partial") == []
    assert listener.events[-1] == ("stopped", "", 0.0)


def test_socket_closing_without_stop_still_finishes_the_call(engine):
    listener = Recorder()
    call = CallMedia(engine, listener)
    play(call, fixture_pcm("emergency_fire", pad=0.1)[:8000 * 3], stop=False)
    call.close()
    call.close()
    assert len(listener.of("stopped")) == 1


@pytest.mark.parametrize("frame, why", [
    ("not json at all", "not JSON"),
    ("[1, 2, 3]", "no event"),
    ('{"no_event": 1}', "no event"),
    ('{"event": 42}', "no event"),
    ('{"event": "mystery"}', "unknown event"),
    ('{"event": "media"}', "without a payload"),
    ('{"event": "media", "media": {"payload": "%%%not-base64%%%"}}', "not base64"),
    ('{"event": "media", "media": {"payload": 12}}', "without a payload"),
    ('{"event": "media", "media": "x"}', "without a payload"),
    ('{"event": "start"}', "second start"),
    ("x" * 70000, "oversized"),
])
def test_bad_frames_are_logged_and_skipped(engine, caplog, frame, why):
    listener = Recorder()
    call = CallMedia(engine, listener)
    call.handle_text(start())
    assert call.handle_text(frame) is True
    assert call.skipped == 1 and why in caplog.text
    for good in media_frames(fixture_pcm("inquiry_passport")):
        call.handle_text(good)
    call.handle_text(STOP)
    assert listener.of("final"), "the stream kept working after the bad frame"


def test_media_before_start_is_skipped(engine, caplog):
    listener = Recorder()
    call = CallMedia(engine, listener)
    frame = next(media_frames(np.zeros(160, dtype=np.int16)))
    assert call.handle_text(frame) is True
    assert call.skipped == 1 and "media before start" in caplog.text


def test_start_for_an_unknown_call_is_skipped_and_its_audio_ignored(engine):
    listener = Recorder(known=())
    call = CallMedia(engine, listener)
    call.handle_text(start("CA-unknown"))
    for frame in media_frames(fixture_pcm("emergency_fire")):
        call.handle_text(frame)
    call.handle_text(STOP)
    assert listener.events == [("started", "CA-unknown")]


def test_outbound_track_is_not_transcribed(engine):
    listener = Recorder()
    call = CallMedia(engine, listener)
    call.handle_text(start())
    for frame in media_frames(fixture_pcm("emergency_fire")):
        message = json.loads(frame)
        message["media"]["track"] = "outbound"
        call.handle_text(json.dumps(message))
    call.handle_text(STOP)
    assert listener.of("final") == [] and call.skipped == 0


class BrokenEngine:
    name = "broken"

    def __init__(self, fail_on="accept"):
        self.fail_on = fail_on

    def recognizer(self):
        if self.fail_on == "start":
            raise RuntimeError("model file unreadable")
        return self

    in_utterance = False

    def accept(self, pcm):
        raise RuntimeError("decoder crashed")

    def finish(self):
        return []


@pytest.mark.parametrize("fail_on, message", [("start", "speech engine failed to start: model file unreadable"),
                                              ("accept", "speech engine failed: decoder crashed")])
def test_engine_failure_is_reported_once_and_the_stream_survives(fail_on, message):
    listener = Recorder()
    call = CallMedia(BrokenEngine(fail_on), listener)
    play(call, fixture_pcm("emergency_fire"))
    assert listener.of("fault") == [("fault", message)]
    assert listener.events[-1][0] == "stopped"


def test_a_finished_stream_hands_its_decoder_back():
    engine = PocketSphinxEngine()
    play(CallMedia(engine, Recorder()), np.zeros(8000, dtype=np.int16))
    assert len(engine._idle) == 1


def test_recognition_progress_follows_the_audio_fed(engine):
    import time

    listener = Recorder()
    call = CallMedia(engine, listener)
    before = time.time()
    play(call, np.zeros(8000 * 4, dtype=np.int16), stop=False)
    assert before + 3.8 <= listener.heard_until <= time.time() + 4.1


def _lag_samples():
    from ivr.telemetry import TRANSCRIPTION_LAG
    return {sample.name: sample.value for sample in TRANSCRIPTION_LAG.collect()[0].samples}


def test_transcription_lag_is_how_far_recognition_trails_the_wall_clock(engine):
    """Audio arriving 1 s of wall time per 0.1 s batch means recognition falls 0.9 s further behind per batch."""
    ticks = iter(range(1000))
    before = _lag_samples()
    play(CallMedia(engine, Recorder(), clock=lambda: float(next(ticks))), np.zeros(8000 * 2, dtype=np.int16))
    after = _lag_samples()
    batches = after["ivr_transcription_lag_seconds_count"] - before["ivr_transcription_lag_seconds_count"]
    added = after["ivr_transcription_lag_seconds_sum"] - before["ivr_transcription_lag_seconds_sum"]
    assert batches == 20
    assert added == pytest.approx(sum(0.9 * n for n in range(1, 21)))     # the nth batch is 0.9 n s behind
