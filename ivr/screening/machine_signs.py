"""Signs of a machine on the caller's side, read from the first seconds of inbound audio.

- fax and modem tones: 1100 Hz calling tone (CNG) and 2100 Hz answer tone, by Goertzel filters;
- talk-over: speech from the first second that runs through the prompt without pausing for it
  (a person waits for the prompt, or stops and starts again; a recording does not);
- the audio fingerprint of the first seconds of sound (ivr.screening.fingerprint), for robocall campaigns.
"""
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from ivr.speech.audio import SAMPLE_RATE
from ivr.screening.fingerprint import fingerprint
from ivr.vocabulary import Flag

BLOCK = 400                              # 50 ms Goertzel blocks
TONES = {1100: (Flag.FAX_TONE, "fax-tone: 1100 Hz calling tone"), 2100: (Flag.MODEM_TONE, "modem-tone: 2100 Hz answer tone")}
FINGERPRINT = "fingerprint"              # not a flag: matched against other calls by ivr.screening.robocall
TONE_SHARE, TONE_BLOCKS = 0.6, 8         # share of the block's energy in the tone, for 400 ms in a row
QUIET = (32768 * 10 ** (-45 / 20)) ** 2  # below -45 dBFS a block is silence, not a tone
TALK_START, TALK_GAP, TALK_SHARE = 1.0, 0.5, 0.85
MAX_FINGERPRINT_SECONDS = 60.0           # the index keeps landmark times as int16 frames


@dataclass(frozen=True)
class Finding:
    flag: str            # Flag.FAX_TONE | Flag.MODEM_TONE | Flag.TALK_OVER | FINGERPRINT
    reason: str
    score: float = 0.0
    hashes: object = None


def goertzel_share(block, freq):
    """Share of the block's energy at `freq` (about 1 for a pure tone there, near 0 for speech or noise)."""
    w = 2 * np.pi * freq / SAMPLE_RATE
    coeff = 2 * np.cos(w)
    s = lfilter([1.0], [1.0, -coeff, 1.0], block)       # the Goertzel recurrence, run in C
    power = s[-1] ** 2 + s[-2] ** 2 - coeff * s[-1] * s[-2]
    energy = float(np.dot(block, block))
    return 2 * power / (len(block) * energy) if energy > 0 else 0.0


class AudioSignals:
    """Fed the caller's audio in any chunk size; returns each finding once, as soon as it is known."""

    def __init__(self, fingerprint_seconds=5.0, prompt_seconds=4.0):
        self.fingerprint_samples = int(min(fingerprint_seconds, MAX_FINGERPRINT_SECONDS) * SAMPLE_RATE)
        self.prompt_blocks = int(prompt_seconds * SAMPLE_RATE / BLOCK)
        self._head = []                   # the first fingerprint_samples of audio
        self._held = 0
        self._pending = np.empty(0, np.float64)
        self._runs = dict.fromkeys(TONES, 0)
        self._voiced = []                 # per 50 ms block, during the prompt
        self.reported = set()

    def feed(self, pcm):
        findings = []
        if not self._held and not self._loud(pcm):
            pass    # the window starts at the first sound: silence while our prompt plays is not the recording
        elif self._held < self.fingerprint_samples:
            self._head.append(pcm[:self.fingerprint_samples - self._held])
            self._held += len(self._head[-1])
            if self._held >= self.fingerprint_samples:
                findings += self._fingerprint()
        self._pending = np.concatenate([self._pending, pcm.astype(np.float64)])
        while len(self._pending) >= BLOCK:
            block, self._pending = self._pending[:BLOCK], self._pending[BLOCK:]
            findings += self._block(block)
        return findings

    @staticmethod
    def _loud(pcm):
        return len(pcm) > 0 and float(np.dot(pcm, pcm.astype(np.float64))) / len(pcm) > QUIET

    def finish(self):
        """The call ended: a call shorter than the fingerprint window still gets one (if over a second)."""
        return [] if FINGERPRINT in self.reported else self._fingerprint()

    def _fingerprint(self):
        self.reported.add(FINGERPRINT)
        hashes = fingerprint(np.concatenate(self._head), self.fingerprint_samples / SAMPLE_RATE) if self._head else None
        self._head = []
        return [] if hashes is None else [Finding(FINGERPRINT, FINGERPRINT, 0.0, hashes)]

    def _block(self, block):
        findings = []
        loud = float(np.dot(block, block)) / len(block) > QUIET
        for freq, (flag, reason) in TONES.items():
            self._runs[freq] = self._runs[freq] + 1 if loud and goertzel_share(block, freq) >= TONE_SHARE else 0
            if self._runs[freq] >= TONE_BLOCKS and flag not in self.reported:
                self.reported.add(flag)
                findings.append(Finding(flag, reason, 0.5))
        if len(self._voiced) < self.prompt_blocks:
            self._voiced.append(loud)
            if len(self._voiced) == self.prompt_blocks:
                findings += self._talk_over()
        return findings

    def _talk_over(self):
        voiced = np.array(self._voiced)
        first = int(np.argmax(voiced)) if voiced.any() else len(voiced)
        if first * BLOCK / SAMPLE_RATE > TALK_START or Flag.TALK_OVER in self.reported:
            return []
        gaps = np.diff(np.flatnonzero(np.r_[True, voiced[first:], True])) - 1
        longest_gap = gaps.max(initial=0) * BLOCK / SAMPLE_RATE
        if voiced[first:].mean() >= TALK_SHARE and longest_gap < TALK_GAP:
            self.reported.add(Flag.TALK_OVER)
            return [Finding(Flag.TALK_OVER, f"talk-over: speech from {first * BLOCK / SAMPLE_RATE:.2f} s ran through "
                                         "the prompt without a pause", 0.2)]
        return []
