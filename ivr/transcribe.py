"""Transcribe audio files with exactly the app's streaming path: one JSON object per line, {"file", "text"}.

    python -m ivr.transcribe FILE...      WAV (16-bit PCM or mu-law, any rate), or raw 8 kHz mu-law (.ul, .raw)

The engine is loaded from the same settings as the app (ASR_ENGINE, VOSK_MODEL_PATH, ASR_LANGUAGE_MODEL) and fed
in the media stream's 100 ms batches. A file that cannot be read gets one line on stderr; the exit status is 1
when any file failed.
"""
import argparse
import json
import logging
import sys
from pathlib import Path

import click
import numpy as np

from ivr.call.media import BATCH_SAMPLES
from ivr.config import load_config
from ivr.speech.audio import mulaw_decode, read_wav, to_telephone
from ivr.speech.engines import engine_from_config

RAW_SUFFIXES = (".ul", ".raw")
_ENGINE = []


def default_engine():
    """The app's engine for this process's settings, loaded once."""
    if not _ENGINE:
        _ENGINE.append(engine_from_config(load_config()))
    return _ENGINE[0]


def transcribe_pcm(pcm_8k_int16, engine=None) -> str:
    """The final transcript of 8 kHz int16 audio, fed to a recognizer in 100 ms batches as a call's stream is."""
    recognizer = (engine or default_engine()).recognizer()
    pcm = np.asarray(pcm_8k_int16, dtype=np.int16)
    try:
        results = []
        for start in range(0, len(pcm), BATCH_SAMPLES):
            results += recognizer.accept(pcm[start:start + BATCH_SAMPLES])
        results += recognizer.finish()
    finally:
        recognizer.close()
    return " ".join(r.text for r in results if r.final and r.text).strip()


def read_audio(path):
    """8 kHz int16 samples of a WAV file (any rate) or of raw 8 kHz mu-law (.ul, .raw)."""
    path = Path(path)
    if path.suffix.lower() in RAW_SUFFIXES:
        return mulaw_decode(path.read_bytes())
    rate, pcm = read_wav(path)
    if rate <= 0:
        raise ValueError(f"{path}: WAV with a sample rate of {rate}")
    return to_telephone(pcm, rate)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    failed = 0
    for name in args.files:
        try:
            text = transcribe_pcm(read_audio(name))
        except (OSError, ValueError) as error:
            failed += 1
            reason = f"{name}: {error.strerror}" if isinstance(error, OSError) and error.strerror else str(error)
            click.echo(f"transcribe: {reason} (expected a WAV file, or raw 8 kHz mu-law named .ul or .raw)",
                       err=True)
            continue
        click.echo(json.dumps({"file": name, "text": text}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
