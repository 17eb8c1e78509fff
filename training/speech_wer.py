"""Word error rate of the app's speech path on sentences spoken by local TTS voices through the telephone channel.

Each sentence is spoken by one voice (flite or espeak-ng), resampled to 8 kHz, sent through G.711 mu-law and
transcribed by `ivr.transcribe.transcribe_pcm` (the app's 100 ms streaming batches). Recognition CPU is this
process's CPU time per second of audio.
"""
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ivr.speech.audio import mulaw_decode, mulaw_encode, read_wav, to_telephone

# the flite voices speak the training transcripts (training.telephone); espeak-ng's are never used for tuning
TUNING_VOICES = ("flite:slt", "flite:rms", "flite:awb", "flite:kal16")
HELD_OUT_VOICES = ("espeak-ng:en-us", "espeak-ng:en-gb")
LEAD, TAIL = 4000, 8000       # half a second of line silence before the caller speaks, a second after


def speak(text, voice):
    """8 kHz int16 audio of `text` spoken by `voice` ("flite:slt", "espeak-ng:en-us") down a G.711 line."""
    program, name = voice.split(":", 1)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        command = {"flite": ["flite", "-voice", name, "-t", text, "-o", str(wav)],
                   "espeak-ng": ["espeak-ng", "-v", name, "-w", str(wav), text]}[program]
        subprocess.run(command, check=True, capture_output=True)
        rate, pcm = read_wav(wav)
    line = mulaw_decode(mulaw_encode(to_telephone(pcm, rate)))
    return np.concatenate([np.zeros(LEAD, np.int16), line, np.zeros(TAIL, np.int16)])


def word_errors(reference, hypothesis):
    """Substitutions + deletions + insertions between two word lists (Levenshtein over words)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i]
        for j, hyp in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def spoken_set(sentences, voices, progress=None):
    """[(text, voice, audio)] with voices in rotation over the sentences (sorted, so reruns match)."""
    items = []
    for n, text in enumerate(sorted(sentences)):
        voice = voices[n % len(voices)]
        items.append((text, voice, speak(text, voice)))
        if progress and (n + 1) % 50 == 0:
            progress(f"spoken {n + 1}/{len(sentences)} ({voices[0].split(':')[0]})")
    return items


def evaluate(engine, items, progress=None):
    """WER and recognition CPU seconds per audio second of `engine` over spoken items."""
    from ivr.transcribe import transcribe_pcm

    errors = words = 0
    audio_seconds = cpu = 0.0
    for n, (text, _voice, pcm) in enumerate(items, start=1):
        if progress and n % 50 == 0:
            progress(f"transcribed {n}/{len(items)}")
        started = time.process_time()
        hypothesis = transcribe_pcm(pcm, engine)
        cpu += time.process_time() - started
        audio_seconds += len(pcm) / 8000
        reference = text.split()
        errors += word_errors(reference, hypothesis.split())
        words += len(reference)
    return {"sentences": len(items), "words": words, "wer": round(errors / max(words, 1), 4),
            "cpu_per_audio_second": round(cpu / max(audio_seconds, 1e-9), 4)}
