"""Machine signs in caller audio: fax and modem tones, talk-over, robocall campaigns across calls."""
import numpy as np
import pytest

from ivr.screening import robocall
from ivr.speech.audio import SAMPLE_RATE
from ivr.screening.fingerprint import FingerprintIndex, fingerprint, is_match, score
from ivr.screening.machine_signs import AudioSignals, goertzel_share
from ivr.call.media import CallMedia
from ivr.store import calls

from audio_variants import VARIANTS, recordings
from helpers import Recorder, media_frames, start

RECORDINGS = recordings()


def tone(freq, seconds, amplitude=8000, phase=0.0):
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.int16)


def silence(seconds):
    return np.zeros(int(seconds * SAMPLE_RATE), np.int16)


def cng(cycles=2):
    """The fax calling tone: 0.5 s of 1100 Hz every 3.5 s."""
    return np.concatenate([np.r_[tone(1100, 0.5), silence(3.0)] for _ in range(cycles)])


def flags(signals, pcm, chunk=160):
    found = []
    for i in range(0, len(pcm), chunk):
        found += signals.feed(pcm[i:i + chunk])
    return [f.flag for f in found + signals.finish()]


@pytest.mark.parametrize("freq, share", [(1100, 0.9), (2100, 0.9), (1000, None), (1700, None)])
def test_goertzel_share_peaks_at_its_frequency(freq, share):
    block = tone(freq, 0.05).astype(np.float64)
    at_1100, at_2100 = goertzel_share(block, 1100), goertzel_share(block, 2100)
    if share is None:
        assert at_1100 < 0.3 and at_2100 < 0.3
    else:
        assert (at_1100 if freq == 1100 else at_2100) > share


@pytest.mark.parametrize("pcm, expected", [
    (np.r_[silence(0.3), cng()], "fax-tone"),
    (np.r_[silence(0.2), tone(2100, 3.3, 3000, 0.7)], "modem-tone"),
    (np.r_[silence(1.0), tone(2100, 3.0, 400)], "modem-tone"),                     # -41 dBFS: quiet, still a tone
])
def test_fax_and_modem_tones_are_found(pcm, expected):
    assert expected in flags(AudioSignals(), pcm)


@pytest.mark.parametrize("pcm", [
    tone(1100, 0.3),                                                               # too short for a tone
    np.r_[silence(1.0), tone(2100, 3.0, 20)],                                      # below -45 dBFS
    tone(440, 4.0) + tone(1100, 4.0, 3000),                                        # 1100 Hz is not most of it
])
def test_short_quiet_or_mixed_tones_are_not_flagged(pcm):
    found = flags(AudioSignals(), pcm)
    assert "fax-tone" not in found and "modem-tone" not in found


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_speech_is_not_a_tone(name):
    found = flags(AudioSignals(), RECORDINGS[name])
    assert "fax-tone" not in found and "modem-tone" not in found


def test_talk_over_is_speech_from_the_start_running_through_the_prompt():
    recording = np.r_[RECORDINGS["complaint_noise"][1200:], RECORDINGS["emergency_fire"]]
    assert "talk-over" in flags(AudioSignals(prompt_seconds=4.0), recording)


@pytest.mark.parametrize("pcm", [
    np.r_[silence(4.0), RECORDINGS["emergency_fire"]],                  # waits for the prompt, then speaks
    np.r_[RECORDINGS["inquiry_passport"][:4000], silence(1.0), RECORDINGS["inquiry_passport"]],   # "hello?" .. pause
    silence(6.0),
])
def test_a_person_waiting_or_pausing_is_not_talk_over(pcm):
    assert "talk-over" not in flags(AudioSignals(prompt_seconds=4.0), pcm)


def test_fingerprint_comes_after_the_window_or_at_the_end_and_never_for_silence():
    assert flags(AudioSignals(fingerprint_seconds=5.0), np.r_[RECORDINGS["emergency_fire"], silence(1.0)]) \
        .count("fingerprint") == 1
    assert "fingerprint" in flags(AudioSignals(), RECORDINGS["inquiry_passport"])      # 3.8 s: at the end
    assert "fingerprint" not in flags(AudioSignals(), silence(6.0))
    assert "fingerprint" not in flags(AudioSignals(), RECORDINGS["spam_prize"][:1600])


class MachineRecorder(Recorder):
    def machine(self, sid, finding):
        self.events.append(("machine", finding.flag))


def test_call_media_reports_machine_signs_to_the_listener():
    recorder = MachineRecorder()

    class NoSpeech:
        def recognizer(self):
            raise RuntimeError("no engine in this test")

    media = CallMedia(NoSpeech(), recorder, signals=AudioSignals())
    media.handle_text(start())
    for frame in media_frames(np.r_[silence(0.3), cng()]):
        media.handle_text(frame)
    media.close()
    assert ("machine", "fax-tone") in recorder.events


def test_broken_analysis_is_switched_off_without_a_fault():
    recorder = MachineRecorder()

    class Broken(AudioSignals):
        def feed(self, pcm):
            raise ValueError("boom")

    class NoSpeech:
        def recognizer(self):
            raise RuntimeError("no engine in this test")

    media = CallMedia(NoSpeech(), recorder, signals=Broken())
    media.handle_text(start())
    for frame in media_frames(silence(0.2)):
        media.handle_text(frame)
    assert media.signals is None
    assert [e for e in recorder.of("fault") if "machine" in e[1]] == []


def finding(pcm):
    signals = AudioSignals()
    return next(f for f in signals.feed(pcm) + signals.finish() if f.flag == "fingerprint")


def test_same_recording_from_two_numbers_is_a_robocall_campaign_across_processes(db):
    first_process, second_process = FingerprintIndex(), FingerprintIndex()
    calls.open_call(db, "CA-a", "+919812345601", "+15005550001", 0.0, [])
    calls.open_call(db, "CA-b", "+919812345602", "+15005550001", 0.0, [])
    calls.open_call(db, "CA-c", "+919812345603", "+15005550001", 0.0, [])
    robocall.on_finding(db, first_process, "CA-a", finding(RECORDINGS["spam_prize"]))
    second = robocall.on_finding(db, second_process, "CA-b", finding(VARIANTS["noise 15 dB"](RECORDINGS["spam_prize"], 1)))
    assert list(second.flags) == ["robocall"] and second.risk == pytest.approx(0.4)
    assert second.audio_reasons[-1].startswith("robocall: same recording as call CA-a from +919812345601 (")
    other = robocall.on_finding(db, first_process, "CA-c", finding(RECORDINGS["emergency_knife"]))
    assert list(other.flags) == [] and other.risk == 0.0


def test_same_recording_from_the_same_number_is_not_a_campaign(db):
    index = FingerprintIndex()
    for sid in ("CA-x", "CA-y"):
        calls.open_call(db, sid, "+919812345601", "+15005550001", 0.0, [])
        stored = robocall.on_finding(db, index, sid, finding(RECORDINGS["spam_prize"]))
    assert list(stored.flags) == ["same-recording"] and "robocall" not in stored.flags


def test_tone_finding_flags_the_call_and_raises_risk(db):
    calls.open_call(db, "CA-t", "+919812345601", "+15005550001", 0.2, ["caller-id: withheld"])
    signals = AudioSignals()
    found = [f for f in signals.feed(np.r_[silence(0.3), cng()]) if f.flag == "fax-tone"]
    stored = robocall.on_finding(db, FingerprintIndex(), "CA-t", found[0])
    assert list(stored.flags) == ["fax-tone"] and stored.risk == pytest.approx(0.7)
    assert stored.reasons == ["caller-id: withheld"] and stored.audio_reasons == ["fax-tone: 1100 Hz calling tone"]


def test_fingerprint_window_starts_at_the_first_sound():
    late = finding(np.r_[silence(3.0), RECORDINGS["spam_prize"], silence(2.0)]).hashes
    original = fingerprint(RECORDINGS["spam_prize"])
    assert is_match(score(late, original), len(late))


def test_fingerprint_window_length_is_configurable():
    two_recordings = np.r_[RECORDINGS["spam_prize"], RECORDINGS["emergency_fire"]]
    short = finding(two_recordings).hashes                       # default 5 s window
    signals = AudioSignals(fingerprint_seconds=10.0)
    long = next(f for f in signals.feed(two_recordings) + signals.finish() if f.flag == "fingerprint").hashes
    assert long[:, 1].max() > short[:, 1].max() + 100           # landmarks from the second recording too
