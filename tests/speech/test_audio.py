import numpy as np
import pytest

from ivr.speech.audio import (MULAW_TO_PCM, Upsampler, mulaw_decode, mulaw_encode, read_wav, to_telephone,
                       voiced_seconds, write_mulaw_wav)

from conftest import FIXTURES


@pytest.mark.parametrize("code, sample", [(0xFF, 0), (0x7F, 0), (0x00, -32124), (0x80, 32124),
                                          (0xF0, 120), (0x70, -120), (0xEF, 132), (0x6F, -132)])
def test_decode_matches_g711(code, sample):
    assert mulaw_decode(bytes([code]))[0] == sample


def test_encode_inverts_decode_for_every_code_but_negative_zero():
    codes = bytes(code for code in range(256) if code != 0x7F)
    assert mulaw_encode(mulaw_decode(codes)) == codes
    assert mulaw_encode(np.array([0], dtype=np.int16)) == b"\xff"


def test_encode_quantises_within_half_a_step():
    pcm = np.arange(-32000, 32000, 7, dtype=np.int16)
    error = np.abs(mulaw_decode(mulaw_encode(pcm)).astype(np.int32) - pcm)
    step = np.abs(pcm.astype(np.int32)) // 16 + 8   # mu-law steps grow with the magnitude
    assert np.all(error <= step)


def test_decode_table_is_monotonic_per_sign():
    positive = MULAW_TO_PCM[0x80:0x100][::-1]
    assert np.all(np.diff(positive.astype(np.int32)) > 0)


def test_upsampler_is_seamless_across_chunks():
    pcm = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 10000).astype(np.int16)
    whole = Upsampler()(pcm)
    chunked = np.concatenate([Upsampler.__call__(u, pcm[i:i + 160]) for u in [Upsampler()]
                              for i in range(0, len(pcm), 160)])
    assert len(whole) == 16000
    assert np.array_equal(whole, chunked)
    # the tone survives at the same loudness (after the filter's start-up)
    assert abs(np.abs(whole[200:]).max() - 10000) < 300


def test_voiced_seconds_counts_loud_frames_only():
    silence = np.zeros(8000, dtype=np.int16)
    hiss = (np.random.default_rng(1).normal(0, 50, 8000)).astype(np.int16)
    speech = (np.sin(np.arange(4000) * 0.3) * 3000).astype(np.int16)
    assert voiced_seconds(silence) == 0.0
    assert voiced_seconds(hiss) == 0.0
    assert voiced_seconds(np.concatenate([silence, speech])) == pytest.approx(0.5)


def test_wav_round_trip(tmp_path):
    pcm = (np.sin(np.arange(8000) * 0.05) * 8000).astype(np.int16)
    write_mulaw_wav(tmp_path / "a.wav", pcm)
    rate, back = read_wav(tmp_path / "a.wav")
    assert rate == 8000
    assert np.array_equal(back, mulaw_decode(mulaw_encode(pcm)))
    assert (tmp_path / "a.wav").stat().st_size == 8000 + 46


def test_fixtures_are_telephone_audio():
    for path in sorted((FIXTURES / "audio").glob("*.wav")):
        rate, pcm = read_wav(path)
        assert rate == 8000 and 2.0 < len(pcm) / rate < 8.0, path.name


def test_read_wav_refuses_what_it_cannot_read(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="not a WAV"):
        read_wav(tmp_path / "x.wav")


def test_to_telephone_resamples_16k():
    pcm = np.zeros(16000, dtype=np.int16)
    assert len(to_telephone(pcm, 16000)) == 8000
