"""The committed recordings, and the same recordings altered the way a second playback would be (tests, bench)."""
from pathlib import Path

import numpy as np

from ivr.speech.audio import SAMPLE_RATE, read_wav

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def recordings():
    return {path.stem: read_wav(path)[1] for path in sorted((FIXTURES / "audio").glob("*.wav"))}


def gain(pcm, factor):
    return np.clip(pcm.astype(np.float64) * factor, -32768, 32767).astype(np.int16)


def noisy(pcm, snr_db, seed):
    x = pcm.astype(np.float64)
    sigma = np.sqrt(np.mean(x * x) / 10 ** (snr_db / 10))
    return np.clip(x + np.random.default_rng(seed).normal(0, sigma, len(x)), -32768, 32767).astype(np.int16)


def shifted(pcm, seconds):
    """Positive: the recording starts later (silence first); negative: the call catches it part-way in."""
    k = int(abs(seconds) * SAMPLE_RATE)
    return np.r_[np.zeros(k, np.int16), pcm] if seconds > 0 else pcm[k:]


VARIANTS = {
    "gain x0.25": lambda p, s: gain(p, 0.25),
    "gain x0.5": lambda p, s: gain(p, 0.5),
    "gain x2": lambda p, s: gain(p, 2.0),
    "noise 20 dB": lambda p, s: noisy(p, 20, s),
    "noise 15 dB": lambda p, s: noisy(p, 15, s),
    "noise 10 dB": lambda p, s: noisy(p, 10, s),
    "start +0.37 s": lambda p, s: shifted(p, 0.37),
    "start +1.1 s": lambda p, s: shifted(p, 1.1),
    "start -0.25 s": lambda p, s: shifted(p, -0.25),
    "start -0.5 s": lambda p, s: shifted(p, -0.5),
    "gain x0.5, noise 15 dB, +0.21 s": lambda p, s: noisy(gain(shifted(p, 0.21), 0.5), 15, s),
    "gain x1.5, noise 20 dB, -0.13 s": lambda p, s: noisy(gain(shifted(p, -0.13), 1.5), 20, s),
}
