"""Audio fingerprints: spectral-peak landmark hashes of the first seconds of caller audio.

The same recording played on many calls (a robocall) gives the same constellation of spectrogram peaks
whatever the gain, with moderate noise, and wherever it starts: pairs of peaks (f1, f2, dt) are hashed
with the time of the first, and two fingerprints match when many hashes agree on one time offset.
Silence, or less than a second of audio, gives no fingerprint at all.
"""
import threading

import numpy as np
from scipy.ndimage import maximum_filter

from ivr.speech.audio import SAMPLE_RATE, voiced_seconds

FRAME, HOP = 256, 128                      # 32 ms windows every 16 ms at 8 kHz
MIN_SECONDS, MIN_VOICED_SECONDS = 1.0, 0.3
PEAKS_PER_SECOND = 30
NEIGHBOURHOOD = (15, 9)                    # frequency bins x frames a peak must dominate
FAN_OUT, MAX_DT = 6, 63                    # pairs per anchor, and their furthest reach in frames (~1 s)
MIN_MATCHES, MIN_FRACTION = 12, 0.015      # agreeing hashes needed; unrelated recordings agree on 1-3
_WINDOW = np.hanning(FRAME)


def fingerprint(pcm, seconds=5.0):
    """Landmark hashes as an (n, 2) uint32 array of (hash, frame), or None for silence or under a second."""
    pcm = np.asarray(pcm[:int(seconds * SAMPLE_RATE)], dtype=np.float64)
    if len(pcm) < MIN_SECONDS * SAMPLE_RATE or voiced_seconds(pcm.astype(np.int16)) < MIN_VOICED_SECONDS:
        return None
    peaks = _peaks(_spectrogram(pcm), len(pcm) / SAMPLE_RATE)
    hashes = _pairs(peaks)
    return hashes if len(hashes) >= MIN_MATCHES else None


def _spectrogram(pcm):
    frames = np.lib.stride_tricks.sliding_window_view(pcm, FRAME)[::HOP] * _WINDOW
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return 10 * np.log10(power.T + 1e-3)    # (frequency bins, frames), dB: a gain change is a constant shift


def _peaks(spec, duration):
    """The strongest local maxima, about PEAKS_PER_SECOND of them, as (frame, bin) sorted by frame."""
    local = (spec == maximum_filter(spec, size=NEIGHBOURHOOD)) & (spec > spec.max() - 60)
    local[:3] = False                       # below ~90 Hz: hum, not the recording
    bins, frames = np.nonzero(local)
    keep = np.argsort(spec[bins, frames])[::-1][:int(PEAKS_PER_SECOND * duration)]
    order = np.lexsort((bins[keep], frames[keep]))
    return frames[keep][order], bins[keep][order]


def _pairs(peaks):
    frames, bins = peaks
    out = []
    for i in range(len(frames)):
        for j in range(i + 1, min(i + 1 + FAN_OUT, len(frames))):
            dt = frames[j] - frames[i]
            if 0 < dt <= MAX_DT:
                out.append(((int(bins[i]) << 14) | (int(bins[j]) << 6) | int(dt), int(frames[i])))
    return np.array(out, dtype=np.uint32).reshape(-1, 2)


def to_bytes(hashes):
    return hashes.astype("<u4").tobytes()


def from_bytes(data):
    return np.frombuffer(data, dtype="<u4").reshape(-1, 2)


def score(query, candidate):
    """Hashes of `query` that agree with `candidate` on one time offset."""
    _, qi, ci = np.intersect1d(query[:, 0], candidate[:, 0], return_indices=True)
    if len(qi) == 0:
        return 0
    # intersect1d keeps one occurrence per hash; good enough for a vote and much faster than all pairs
    offsets = candidate[ci, 1].astype(np.int64) - query[qi, 1].astype(np.int64)
    return int(np.bincount(offsets - offsets.min()).max())


def is_match(matches, query_size):
    return matches >= max(MIN_MATCHES, MIN_FRACTION * query_size)


class FingerprintIndex:
    """Recent calls' fingerprints in sorted numpy arrays (an inverted index), safe to share between threads.

    New fingerprints go to a small tail that is merged into the sorted arrays once it grows; the oldest
    calls are dropped past `capacity`.
    """

    def __init__(self, capacity=10_000, merge_every=50):
        self.capacity, self.merge_every = capacity, merge_every
        self._lock = threading.Lock()
        self._hashes = np.empty(0, np.uint32)
        self._entries = np.empty(0, np.int32)       # index into self._calls
        self._frames = np.empty(0, np.int16)        # 5 s is ~310 frames
        self._calls = []                             # (key, number) per entry id; key = store id or sid
        self._tail = []
        self._keys = set()
        self.last_id = 0                             # highest store id seen (for syncing from the database)

    def __len__(self):
        return len(self._calls)

    def nbytes(self):
        """Memory held by the fingerprints: sorted arrays plus the unmerged tail."""
        return self._hashes.nbytes + self._entries.nbytes + self._frames.nbytes + sum(h.nbytes for _, h in self._tail)

    def add(self, key, number, hashes, store_id=0):
        """Add a call's fingerprint (a key already present is ignored)."""
        with self._lock:
            self.last_id = max(self.last_id, store_id)
            if key in self._keys:
                return
            self._keys.add(key)
            self._calls.append((key, number))
            self._tail.append((len(self._calls) - 1, hashes))
            if len(self._tail) >= self.merge_every:
                self._merge()

    def _merge(self):
        ids = [np.full(len(h), entry, np.int32) for entry, h in self._tail]
        hashes = np.concatenate([self._hashes] + [h[:, 0] for _, h in self._tail])
        entries = np.concatenate([self._entries] + ids)
        frames = np.concatenate([self._frames] + [h[:, 1].astype(np.int16) for _, h in self._tail])
        self._tail = []
        oldest = len(self._calls) - self.capacity
        if oldest > 0:               # forget calls past capacity: memory is bounded by it, not by history
            keep = entries >= oldest
            hashes, entries, frames = hashes[keep], entries[keep] - oldest, frames[keep]
            self._keys.difference_update(key for key, _ in self._calls[:oldest])
            self._calls = self._calls[oldest:]
        order = np.argsort(hashes, kind="stable")
        self._hashes, self._entries, self._frames = hashes[order], entries[order], frames[order]

    def best(self, hashes, exclude=None):
        """The recent call sharing the most time-aligned hashes with `hashes`: ((key, number), matches) or None."""
        with self._lock:
            entries, offsets = self._lookup(hashes)
            for entry, candidate in self._tail:
                _, qi, ci = np.intersect1d(hashes[:, 0], candidate[:, 0], return_indices=True)
                entries = np.concatenate([entries, np.full(len(qi), entry, np.int64)])
                offsets = np.concatenate([offsets, candidate[ci, 1].astype(np.int64) - hashes[qi, 1].astype(np.int64)])
            oldest = max(len(self._calls) - self.capacity, 0)
            keep = entries >= oldest
            if exclude is not None and exclude in self._keys:
                keep &= entries != next(i for i, (key, _) in enumerate(self._calls) if key == exclude)
            entries, offsets = entries[keep], offsets[keep]
            if len(entries) == 0:
                return None
            values, counts = np.unique(entries * 65536 + (offsets + 32768), return_counts=True)  # (call, offset)
            top = int(np.argmax(counts))
            return self._calls[int(values[top] // 65536)], int(counts[top])

    def _lookup(self, hashes):
        left = np.searchsorted(self._hashes, hashes[:, 0], side="left")
        right = np.searchsorted(self._hashes, hashes[:, 0], side="right")
        lengths = right - left
        if lengths.sum() == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        positions = np.repeat(left - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())
        query_frames = np.repeat(hashes[:, 1].astype(np.int64), lengths)
        return self._entries[positions].astype(np.int64), self._frames[positions].astype(np.int64) - query_frames
