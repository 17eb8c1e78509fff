"""`python -m ivr.transcribe`: WAV (any rate) and raw mu-law through the app's own streaming path."""
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from ivr import transcribe
from ivr.speech.audio import mulaw_encode, read_wav
from ivr.speech.engines import engine_from_config
from ivr.config import load_config

from conftest import FIXTURES

FIRE = FIXTURES / "audio" / "emergency_fire.wav"
ROOT = FIXTURES.parents[1]


def pcm_wav(path, pcm, rate):
    body = pcm.astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(body)) + b"WAVE"
                     + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body)
    return path


@pytest.fixture(scope="module")
def fire():
    return read_wav(FIRE)[1]


@pytest.fixture(scope="module")
def expected(fire):
    """The transcript the app's engine writes for the fixture, fed the way a media stream feeds it."""
    return transcribe.transcribe_pcm(fire, engine_from_config(load_config()))


def test_the_app_path_hears_the_fixture(expected):
    assert {"fire", "building", "brigade"} <= set(expected.split())


def test_wav_at_any_rate_and_raw_mulaw_give_the_apps_transcript(tmp_path, capsys, fire, expected):
    from scipy.signal import resample_poly

    wide = pcm_wav(tmp_path / "fire16k.wav", np.clip(resample_poly(fire.astype(float), 2, 1), -32768, 32767), 16000)
    (tmp_path / "fire.ul").write_bytes(mulaw_encode(fire))
    (tmp_path / "fire.raw").write_bytes(mulaw_encode(fire))
    files = [str(FIRE), str(tmp_path / "fire.ul"), str(tmp_path / "fire.raw"), str(wide)]
    assert transcribe.main(files) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines] == files
    assert [line["text"] for line in lines[:3]] == [expected] * 3      # the same samples, the same words
    assert {"fire", "building", "brigade"} <= set(lines[3]["text"].split())


@pytest.mark.parametrize("content, reason", [
    (None, "No such file or directory"),
    (b"hello, not audio", "not a WAV file"),
    (b"RIFF\x10\x00\x00\x00WAVEjunk", "WAV without fmt or data chunk"),
])
def test_a_bad_file_gets_one_line_and_a_failing_exit_while_the_others_are_transcribed(tmp_path, capsys, content,
                                                                                       reason):
    bad = tmp_path / "bad.wav"
    if content is not None:
        bad.write_bytes(content)
    assert transcribe.main([str(bad), str(FIRE)]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"transcribe: {bad}") and reason in line and ".ul or .raw" in line
    assert [json.loads(out)["file"] for out in captured.out.splitlines()] == [str(FIRE)]


def test_the_command_runs_as_a_module(tmp_path):
    (tmp_path / "quiet.ul").write_bytes(mulaw_encode(np.zeros(8000, dtype=np.int16)))
    done = subprocess.run([sys.executable, "-m", "ivr.transcribe", str(tmp_path / "quiet.ul")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"file": str(tmp_path / "quiet.ul"), "text": ""}
