"""Telephone audio: G.711 mu-law <-> 16-bit PCM with numpy tables, streaming 2x upsampling, speech energy."""
from math import gcd

import numpy as np
from scipy.signal import firwin, lfilter, lfilter_zi, resample_poly

SAMPLE_RATE = 8000
_BIAS = 0x84


def _decode_table():
    code = ~np.arange(256, dtype=np.uint8)
    exponent = (code >> 4) & 0x07
    magnitude = (((code & 0x0F).astype(np.int32) << 3) + _BIAS) << exponent
    return np.where(code & 0x80, _BIAS - magnitude, magnitude - _BIAS).astype(np.int16)


MULAW_TO_PCM = _decode_table()


def mulaw_decode(data: bytes) -> np.ndarray:
    """Decode mu-law bytes to int16 samples (exact G.711, same as sox/audioop)."""
    return MULAW_TO_PCM[np.frombuffer(data, dtype=np.uint8)]


def mulaw_encode(pcm: np.ndarray) -> bytes:
    """Encode int16 samples to mu-law bytes (G.711)."""
    x = np.clip(pcm.astype(np.int32), -32635, 32635)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.abs(x) + _BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


class Upsampler:
    """Stateful 8 kHz -> 16 kHz converter, seamless across chunk boundaries."""

    _TAPS = firwin(63, 0.5) * 2  # half-band low-pass; x2 restores the gain lost to zero insertion

    def __init__(self):
        self._state = lfilter_zi(self._TAPS, 1.0) * 0.0

    def __call__(self, pcm: np.ndarray) -> np.ndarray:
        stuffed = np.zeros(len(pcm) * 2, dtype=np.float64)
        stuffed[::2] = pcm
        out, self._state = lfilter(self._TAPS, 1.0, stuffed, zi=self._state)
        return np.clip(out, -32768, 32767).astype(np.int16)


def voiced_seconds(pcm: np.ndarray, threshold_dbfs=-40.0, frame=160) -> float:
    """Seconds of audio whose 20 ms frames are louder than the threshold: the caller's speech energy."""
    usable = len(pcm) - len(pcm) % frame
    if usable == 0:
        return 0.0
    frames = pcm[:usable].astype(np.float64).reshape(-1, frame)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    loud = rms > 32768.0 * 10 ** (threshold_dbfs / 20)
    return float(np.count_nonzero(loud)) * frame / SAMPLE_RATE


def read_wav(path):
    """Read a mono WAV (16-bit PCM or G.711 mu-law, any rate) as (rate, int16 samples)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    fmt, samples, pos = None, None, 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + size]
        if chunk == b"fmt ":
            fmt = (int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little"),
                   int.from_bytes(body[4:8], "little"), int.from_bytes(body[14:16], "little"))
        elif chunk == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    if fmt is None or samples is None:
        raise ValueError(f"{path}: WAV without fmt or data chunk")
    encoding, channels, rate, bits = fmt
    if channels != 1:
        raise ValueError(f"{path}: {channels} channels, expected mono")
    if encoding == 7 and bits == 8:
        return rate, mulaw_decode(samples)
    if encoding == 1 and bits == 16:
        return rate, np.frombuffer(samples[:len(samples) - len(samples) % 2], dtype="<i2").astype(np.int16)
    raise ValueError(f"{path}: WAV encoding {encoding}/{bits} bits; use 16-bit PCM or mu-law")


def write_mulaw_wav(path, pcm):
    """Write 8 kHz int16 samples as a G.711 mu-law WAV (8 kB per second: small enough to commit)."""
    body = mulaw_encode(pcm)
    fmt = ((7).to_bytes(2, "little") + (1).to_bytes(2, "little") + SAMPLE_RATE.to_bytes(4, "little")
           + SAMPLE_RATE.to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
           + (0).to_bytes(2, "little"))
    chunks = b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + len(body).to_bytes(4, "little") + body
    with open(path, "wb") as handle:
        handle.write(b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks)


def to_telephone(pcm, rate):
    """Resample int16 audio to 8 kHz (the telephone channel)."""
    if rate == SAMPLE_RATE:
        return pcm.astype(np.int16)
    g = gcd(SAMPLE_RATE, rate)
    out = resample_poly(pcm.astype(np.float64), SAMPLE_RATE // g, rate // g)
    return np.clip(out, -32768, 32767).astype(np.int16)
