"""Telephone-channel copies of the corpus: what the embedded speech engine really writes down.

Each corpus sentence is spoken by a local TTS voice (flite; voices rotate), passed through the telephone
channel (8 kHz, G.711 mu-law) and transcribed by the app's own speech path (`ivr.transcribe`). The transcripts go to
training/data/telephone.csv (`label,text,voice,source`), so the model learns from what calls look like.

    python -m training.telephone [--workers 2]     (needs: apt-get install flite)

Rows already transcribed are kept (keyed by source text and voice); only new sentences are processed.
"""
import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click
import numpy as np

from training.train import ROOT, read_corpus

VOICES = ("slt", "rms", "awb", "kal16")
OUT = ROOT / "training" / "data" / "telephone.csv"
FIELDS = ("label", "text", "voice", "source")


def voice_for(text):
    """A stable voice per sentence, so reruns reproduce the same file."""
    return VOICES[sum(text.encode()) % len(VOICES)]


def transcribe(job):
    """Speak one sentence, send it down the telephone channel, and return the app's transcript of it."""
    label, text, voice = job
    from ivr.speech.audio import mulaw_decode, mulaw_encode, read_wav, to_telephone
    from ivr.transcribe import transcribe_pcm

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True, capture_output=True)
        rate, pcm = read_wav(wav)
    line = mulaw_decode(mulaw_encode(to_telephone(pcm, rate)))
    silence = np.zeros(4000, dtype=np.int16)
    heard = transcribe_pcm(np.concatenate([silence, line, silence, silence]))
    return {"label": label, "text": heard, "voice": voice, "source": text}


def load_done(path):
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {(row["source"], row["voice"]): row for row in csv.DictReader(handle)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "training" / "data" / "corpus.csv"))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not shutil.which("flite"):
        click.echo("telephone: needs flite (apt-get install flite)", err=True)
        return 2
    texts, labels = read_corpus(args.data)
    done = load_done(Path(args.out))
    jobs = [(label, text, voice_for(text)) for text, label in zip(texts, labels)
            if (text, voice_for(text)) not in done]
    click.echo(f"telephone: {len(done)} rows kept, {len(jobs)} to transcribe", err=True)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for n, row in enumerate(pool.map(transcribe, jobs, chunksize=8), start=1):
            done[(row["source"], row["voice"])] = row
            if n % 100 == 0:
                click.echo(f"telephone: {n}/{len(jobs)}", err=True)
                write(Path(args.out), done, texts)
    write(Path(args.out), done, texts)
    return 0


def write(path, done, texts):
    """Write rows in corpus order (sentences no longer in the corpus are dropped)."""
    keep = {text: True for text in texts}
    rows = sorted((row for row in done.values() if row["source"] in keep), key=lambda row: row["source"])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    sys.exit(main())
