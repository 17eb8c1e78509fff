"""Voices and telephone-channel conditions for the transcripts triage trains on, assigned per sentence by seed.

A Condition says who speaks a sentence (a flite or espeak-ng voice), how (speed, pitch) and what the line does
to it (level, noise, lost 20 ms packets). `plan(text, validation)` gives a sentence's conditions: the same text
always gets the same ones (seeded by SEED and the text), so a rerun reproduces the file and a resumed run only
does what is missing. HELD_OUT voices speak validation sentences only and never train the model: triage is
reported on them apart, as voices the model has never heard.
"""
import hashlib
import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivr.speech.audio import SAMPLE_RATE, mulaw_decode, mulaw_encode, read_wav, to_telephone

SEED = 20261201
FLITE = ("slt", "rms", "awb", "kal16", "kal")
ESPEAK = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")   # no en-in voice in espeak-ng
ESPEAK_VARIANTS = ("", "m3", "f2", "f4", "klatt")
HELD_OUT = ("flite/rms", "espeak-ng/en-029")        # a flite and an espeak-ng voice no model ever trains on
LEGACY = ("slt", "rms", "awb", "kal16")             # the first file's voice per sentence (kept: same transcripts)
FRAME = 160                                          # one 20 ms packet of 8 kHz G.711
TOOLS = {"flite": "flite", "espeak-ng": "espeak-ng", "sox": "sox"}


@dataclass(frozen=True)
class Condition:
    voice: str              # "flite/slt", "espeak-ng/en-us+f2"
    speed: float = 1.0      # tempo factor (sox tempo): 1.1 speaks 10 % faster
    pitch: int = 0          # cents (sox pitch)
    gain_db: float = 0.0    # level at the phone; loud lines clip
    snr_db: float | None = None   # line noise, dB below the speech; None: a clean line
    loss: float = 0.0       # share of 20 ms packets lost (heard as silence)

    @property
    def name(self):
        """A stable text key: the voice alone for a clean line, else every setting."""
        if self == Condition(self.voice):
            return "clean"
        noise = "-" if self.snr_db is None else f"{self.snr_db:g}"
        return f"s{self.speed:g} p{self.pitch} g{self.gain_db:g} n{noise} l{self.loss:g}"

    @property
    def held_out(self):
        return base_voice(self.voice) in HELD_OUT


def base_voice(voice):
    """The voice without its espeak-ng variant: held-out voices are held out in every variant."""
    return voice.split("+")[0]


def voices(engine, held_out=False):
    """An engine's voices (espeak-ng ones in every variant), either the held-out ones or the training ones."""
    names = [f"flite/{v}" for v in FLITE] if engine == "flite" else [
        f"espeak-ng/{v}{'+' + x if x else ''}" for v in ESPEAK for x in ESPEAK_VARIANTS]
    return [v for v in names if (base_voice(v) in HELD_OUT) == held_out]


def pick_voice(rng, held_out=False):
    """An engine first (half flite, half espeak-ng, whatever their voice counts), then one of its voices."""
    return rng.choice(voices(rng.choice(("flite", "espeak-ng")), held_out))


def rng_for(text, copy):
    digest = hashlib.sha256(f"{SEED}|{copy}|{text}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def varied(voice, rng):
    """A voice with random speed, pitch, level, and most of the time some line noise or packet loss."""
    return Condition(voice, speed=round(rng.uniform(0.85, 1.2), 2), pitch=rng.choice((-300, -150, 0, 0, 150, 300)),
                     gain_db=rng.choice((-18, -12, -6, 0, 0, 4)), snr_db=rng.choice((None, None, 30, 20, 15)),
                     loss=rng.choice((0.0, 0.0, 0.02, 0.05, 0.1)))


def plan(text, validation):
    """The sentence's conditions: its first voice on a clean line (the original file's), a varied training
    voice, and for validation sentences a varied held-out voice too."""
    legacy = f"flite/{LEGACY[sum(text.encode()) % len(LEGACY)]}"
    if not validation and base_voice(legacy) in HELD_OUT:
        legacy = rng_for(text, 0).choice(voices("flite"))
    conditions = [Condition(legacy), varied(pick_voice(rng_for(text, 1)), rng_for(text, 2))]
    if validation:
        conditions.append(varied(pick_voice(rng_for(text, 3), held_out=True), rng_for(text, 4)))
    return conditions


def speak(text, voice, wav):
    """Write TEXT spoken by VOICE to the WAV file."""
    engine, name = voice.split("/", 1)
    if engine == "flite":
        command = ["flite", "-voice", name, "-t", text, "-o", str(wav)]
    else:
        command = ["espeak-ng", "-v", name, "-w", str(wav), text]
    subprocess.run(command, check=True, capture_output=True)


def render(text, condition):
    """The sentence as the app receives it: 8 kHz int16 samples after the telephone channel."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        speak(text, condition.voice, wav)
        if condition.speed != 1.0 or condition.pitch:
            shaped = Path(tmp) / "shaped.wav"
            subprocess.run(["sox", str(wav), str(shaped), "tempo", "-s", f"{condition.speed:g}",
                            "pitch", str(condition.pitch)], check=True, capture_output=True)
            wav = shaped
        rate, pcm = read_wav(wav)
    return channel(to_telephone(pcm, rate), condition, rng_for(text, condition.name))


def channel(pcm, condition, rng):
    """Level, line noise, G.711 mu-law and lost packets (seeded by RNG, so reproducible)."""
    noise_rng = np.random.default_rng(rng.getrandbits(64))
    x = pcm.astype(np.float64) * 10 ** (condition.gain_db / 20)
    if condition.snr_db is not None and len(x):
        power = np.mean(x[np.abs(x) > 0.1 * np.max(np.abs(x))] ** 2) if np.any(x) else 1.0
        noise = noise_rng.normal(0.0, 1.0, len(x))
        noise = np.convolve(noise, np.ones(3) / 3, mode="same")   # a little low-passed: line hiss, not white
        x = x + noise * np.sqrt(power / 10 ** (condition.snr_db / 10) / np.mean(noise ** 2))
    line = bytearray(mulaw_encode(np.clip(x, -32768, 32767).astype(np.int16)))
    if condition.loss:
        frames = len(line) // FRAME
        for i in np.flatnonzero(noise_rng.random(frames) < condition.loss):
            line[i * FRAME:(i + 1) * FRAME] = b"\xff" * FRAME     # mu-law silence: no concealment on the line
    return mulaw_decode(bytes(line))


def seconds(pcm):
    return len(pcm) / SAMPLE_RATE
