"""CallMedia, the per-call stream state machine, driven with Twilio's JSON frames and real PocketSphinx."""
import json
import re

import numpy as np
import pytest

from ivr.speech.engines import PocketSphinxEngine
from ivr.speech.audio import read_wav
from ivr.call.media import OVER_AUDIO_RATE, OVER_FRAME_RATE, CallMedia
from ivr.call.stream_limits import LOG_LINES, StreamLimits

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
    ("[" * 32000 + "]" * 32000, "not JSON (RecursionError)"),        # within the 64 KiB frame cap
    ('{"a":' * 10000 + "1" + "}" * 10000, "not JSON (RecursionError)"),
    ('{"event": "media", "media": {"payload": ""}}', "payload is empty"),
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


def test_a_refused_start_ends_the_stream_with_a_policy_close(engine):
    """The listener refuses (wrong token, ended call, a second stream): the socket is to close, nothing else."""
    listener = Recorder(known=())
    call = CallMedia(engine, listener)
    assert call.handle_text(start("CA1")) is False
    assert call.closing == (1008, "refused")
    assert all(call.handle_text(frame) is False for frame in media_frames(fixture_pcm("emergency_fire")))
    call.close()
    assert listener.events == [("started", "CA1")] and call.skipped == 0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def limited(engine, listener=None, **limits):
    clock = Clock()
    call = CallMedia(engine, listener or Recorder(), limits=StreamLimits(**limits), monotonic=clock)
    return call, clock


SILENT_FRAME = next(media_frames(np.zeros(160, dtype=np.int16)))


def test_a_socket_that_never_starts_is_closed_whatever_junk_it_sends(engine):
    call, clock = limited(engine, start_seconds=10, idle_seconds=30)
    for _ in range(99):
        clock.now += 0.1
        assert call.handle_text('{"event": "mystery"}') is True
    clock.now += 0.1
    assert call.handle_text('{"event": "mystery"}') is False
    assert call.closing == (1008, "no start")


def test_without_frames_the_start_deadline_is_kept_by_tick(engine):
    call, clock = limited(engine, start_seconds=10)
    clock.now += 9.9
    assert call.tick() is True
    clock.now += 0.1
    assert call.tick() is False and call.closing == (1008, "no start")


def test_the_idle_limit_counts_only_valid_media(engine):
    listener = Recorder()
    call, clock = limited(engine, listener, idle_seconds=5)
    call.handle_text(start())
    for _ in range(49):
        clock.now += 0.1
        assert call.handle_text('{"event": "media", "media": {"payload": "!!"}}') is True
    clock.now += 0.1
    assert call.handle_text('{"event": "media", "media": {"payload": "!!"}}') is False
    assert call.closing == (1001, "idle")
    assert listener.events[-1] == ("stopped", "", 0.0) and listener.of("fault") == []


def test_a_real_time_stream_keeps_within_every_limit(engine):
    listener = Recorder()
    call, clock = limited(engine, listener, idle_seconds=1, max_speed=2.0, max_audio_seconds=600)
    call.handle_text(start())
    for frame in media_frames(np.zeros(8000 * 120, dtype=np.int16)):      # two minutes, 20 ms apart
        clock.now += 0.02
        assert call.handle_text(frame) is True
    assert call.handle_text(STOP) is False and call.closing == (1000, "stop")
    assert listener.of("fault") == []


def test_a_stream_may_catch_up_after_a_stall(engine):
    call, clock = limited(engine, max_speed=2.0)
    call.handle_text(start())
    frames = media_frames(np.zeros(8000 * 60, dtype=np.int16))
    for second in range(60):
        clock.now += 1.0 if second % 10 else 3.0      # a 3 s network stall every 10 s, then the backlog at once
        for _ in range(50 if second % 10 else 150):
            assert call.handle_text(next(frames, SILENT_FRAME)) is True


def test_audio_faster_than_the_limit_is_closed_and_faulted(engine):
    listener = Recorder()
    call, clock = limited(engine, listener, max_speed=2.0)
    call.handle_text(start())
    ended = None
    for n, frame in enumerate(media_frames(np.zeros(8000 * 60, dtype=np.int16))):
        clock.now += 0.02 / 3                           # three times real time
        if call.handle_text(frame) is False:
            ended = n
            break
    assert ended is not None and 5.0 / 0.02 < ended < 20.0 / 0.02
    assert call.closing == (1008, "audio rate")
    assert listener.of("fault") == [("fault", OVER_AUDIO_RATE)] and listener.events[-1][0] == "stopped"


def test_a_flood_of_tiny_frames_is_closed_by_the_frame_rate(engine):
    listener = Recorder()
    call, clock = limited(engine, listener, max_speed=2.0)
    call.handle_text(start())
    one_byte = next(media_frames(np.zeros(1, dtype=np.int16)))
    results = []
    for _ in range(3000):
        clock.now += 0.001
        results.append(call.handle_text(one_byte))
    assert results.count(True) < 1500 and results[-1] is False
    assert call.closing == (1008, "frame rate") and listener.of("fault") == [("fault", OVER_FRAME_RATE)]


def test_a_call_gets_at_most_its_audio_seconds(engine):
    listener = Recorder()
    call, clock = limited(engine, listener, max_audio_seconds=3)
    call.handle_text(start())
    fed = 0
    for frame in media_frames(np.zeros(8000 * 5, dtype=np.int16)):
        clock.now += 0.02
        if not call.handle_text(frame):
            break
        fed += 1
    assert fed == 150 and call.closing == (1008, "audio limit")
    assert listener.of("fault") == [] and listener.events[-1][0] == "stopped"


def test_bad_frames_are_logged_a_few_lines_at_a_time(engine, caplog):
    call, clock = limited(engine, max_speed=1000)
    call.handle_text(start())
    for _ in range(10000):
        clock.now += 0.0005                        # 5 s of junk
        call.handle_text("junk")
    clock.now += 6                                 # the next interval: its first bad frame reports the rest
    call.handle_text("junk")
    lines = [r.message for r in caplog.records]
    assert lines[:LOG_LINES] == ["media stream CA1: frame is not JSON (JSONDecodeError); skipped"] * LOG_LINES
    assert lines[LOG_LINES:] == [f"media stream CA1: {10000 - LOG_LINES} more bad frames skipped",
                                 "media stream CA1: frame is not JSON (JSONDecodeError); skipped"]
    for _ in range(100):
        call.handle_text("junk")
    call.close()
    assert caplog.records[-1].message == f"media stream CA1: {100 - LOG_LINES + 1} more bad frames skipped"


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


def test_a_stream_that_falls_behind_the_caller_is_shed_and_gives_its_slot_back(engine, tmp_path):
    """Each 0.1 s batch costs 0.5 s of wall clock: recognition is 3 s behind after about 8 batches."""
    from ivr.speech.slots import RecognitionSlots

    slots = RecognitionSlots(tmp_path, 1)
    slots.reserve("CA1")
    wall = iter(range(0, 10_000))
    listener = Recorder()
    call = CallMedia(engine, listener, clock=lambda: next(wall) * 0.5, limits=StreamLimits(max_lag_seconds=3.0),
                     slots=slots)
    play(call, fixture_pcm("emergency_fire"), stop=False)
    assert slots.in_use() == 0 and call.recognizer is None
    sheds = listener.of("shed")
    assert len(sheds) == 1 and sheds[0][1] == "lag"
    assert re.search(r"fell 3\.\d s behind the caller \(limit 3 s\)", sheds[0][2]) and "keypad decides" in sheds[0][2]
    assert listener.of("partial") == [] or listener.events.index(sheds[0]) > listener.events.index(
        listener.of("partial")[-1])                               # nothing recognised after the shed
    assert listener.voice > 2.0                                    # the caller's voice is still measured
    assert call.handle_text(STOP) is False and listener.events[-1][0] == "stopped"


def test_a_stream_that_keeps_up_is_not_shed(engine, tmp_path):
    from ivr.speech.slots import RecognitionSlots

    slots = RecognitionSlots(tmp_path, 1)
    listener = Recorder()
    call = CallMedia(engine, listener, limits=StreamLimits(max_lag_seconds=3.0), slots=slots)
    play(call, fixture_pcm("emergency_fire"), stop=False)
    assert slots.in_use() == 1 and listener.of("shed") == []
    assert call.handle_text(STOP) is False
    assert slots.in_use() == 0 and "fire" in listener.events[-1][1]


def test_a_stream_that_finds_no_free_slot_listens_for_voice_only(engine, tmp_path):
    from ivr.speech.slots import RecognitionSlots

    slots = RecognitionSlots(tmp_path, 1)
    assert slots.reserve("CA-other") is None
    listener = Recorder()
    play(CallMedia(engine, listener, slots=slots), fixture_pcm("emergency_fire"))
    assert listener.of("shed") == [("shed", "start", "overload: all 1 recognition slots busy when the stream started; "
                                                     "the keypad decides")]
    assert listener.of("partial") == [] and listener.of("final") == []
    assert listener.events[-1][0] == "stopped" and listener.events[-1][1] == "" and listener.events[-1][2] > 2.0
    assert listener.voice > 2.0


def test_a_call_shed_at_its_answer_is_not_recognised_even_with_a_slot_free(engine, tmp_path):
    from ivr.speech.slots import RecognitionSlots

    class ShedAtAnswer(Recorder):
        def recognition_shed(self, sid):
            return True

    slots = RecognitionSlots(tmp_path, 1)
    listener = ShedAtAnswer()
    play(CallMedia(engine, listener, slots=slots), fixture_pcm("emergency_fire"))
    assert listener.of("final") == [] and listener.of("shed") == [] and slots.in_use() == 0
