"""Telephone-channel copies of the corpus: what the app's speech engine really writes down.

Each corpus sentence is spoken under the conditions training.conditions assigns it (flite and espeak-ng
voices, speed, pitch, level, line noise, lost packets), passed through 8 kHz G.711 mu-law and transcribed
by the app's own streaming path (`transcribe_pcm`). The transcripts go to training/data/telephone.csv.gz
(`label,text,voice,condition,source,asr`); training.train learns from them and reports held-out voices apart.

    python -m training.telephone [--workers 2] [--limit N]     (needs: apt-get install flite espeak-ng sox)

Resumable: rows already transcribed by the same speech path are kept (keyed by source, voice and condition)
and the file is rewritten every 25 rows, so an interrupted run goes on where it stopped. --limit N does only
the first N missing rows (in a seeded order, so a partial run is a fair sample of the corpus).
"""
import argparse
import csv
import hashlib
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click
import numpy as np

from training import conditions
from training.corpus import ROOT, in_validation, open_csv, read_corpus

OUT = ROOT / "training" / "data" / "telephone.csv.gz"
FIELDS = ("label", "text", "voice", "condition", "source", "asr")
GENERIC = "pocketsphinx-en-us"      # the first file format's speech path: PocketSphinx's generic model
SILENCE = np.zeros(4000, dtype=np.int16)     # half a second, as a caller pauses before and after speaking
FLUSH_EVERY = 25


def transcribe_pcm(pcm):
    """The app's own speech path (ivr.transcribe) on 8 kHz int16 samples, with the pauses a caller leaves."""
    from ivr.transcribe import transcribe_pcm as app_path

    return app_path(np.concatenate([SILENCE, pcm, SILENCE, SILENCE]))


def speech_path():
    """Which speech path writes the rows (engine and language model): rows of another path are redone."""
    from ivr.transcribe import default_engine

    engine = default_engine()
    domain = getattr(engine, "domain", None)
    return f"{engine.name}-en-us" + (f"+lm-{domain.version}" if domain else "")


def transcribe(job):
    """Speak one sentence under its condition and return the row (with the seconds of audio and of CPU)."""
    label, text, condition = job
    started = time.process_time()
    pcm = conditions.render(text, condition)
    heard = transcribe_pcm(pcm)
    return ({"label": label, "text": heard, "voice": condition.voice, "condition": condition.name,
             "source": text, "asr": speech_path()}, conditions.seconds(pcm), time.process_time() - started)


def load_done(path, speech=None):
    """Rows already transcribed by this speech path (SPEECH, by default the app's), keyed by (source, voice,
    condition). Rows of the first file format (one flite voice, a clean line, no asr column) were made by the
    generic PocketSphinx path."""
    speech = speech or speech_path()
    if not path.exists():
        return {}
    done = {}
    with open_csv(path) as handle:
        for row in csv.DictReader(handle):
            if "condition" not in row or row["condition"] is None:
                row = {**row, "voice": f"flite/{row['voice']}", "condition": "clean", "asr": GENERIC}
            if row.get("asr") == speech:
                done[(row["source"], row["voice"], row["condition"])] = row
    return done


def jobs_for(texts, labels, done):
    """The (label, text, condition) jobs still missing: held-out voices first (they are what triage is reported
    on), then the rest in a seeded order, so a partial run samples the corpus evenly."""
    jobs = [(label, text, condition) for text, label in zip(texts, labels)
            for condition in conditions.plan(text, in_validation(text))
            if (text, condition.voice, condition.name) not in done]
    return sorted(jobs, key=lambda job: (not job[2].held_out,
                                         hashlib.sha256(f"{job[1]}|{job[2].voice}".encode()).hexdigest()))


def missing_tools():
    return [tool for tool in conditions.TOOLS if not shutil.which(tool)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "training" / "data" / "corpus.csv"))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="transcribe at most N missing rows this run")
    args = parser.parse_args(argv)
    if missing := missing_tools():
        click.echo(f"telephone: needs {', '.join(missing)} (apt-get install flite espeak-ng sox)", err=True)
        return 2
    texts, labels = read_corpus(args.data)
    out = Path(args.out)
    done = load_done(out)
    jobs = jobs_for(texts, labels, done)
    wanted = len(planned(texts))
    todo = jobs[:args.limit] if args.limit is not None else jobs
    click.echo(f"telephone: {wanted} rows planned, {wanted - len(jobs)} kept, {len(todo)} to transcribe now",
               err=True)
    run(todo, done, out, planned(texts), args.workers)
    return 0


def run(jobs, done, out, keys, workers):
    """Transcribe JOBS in WORKERS processes, saving every FLUSH_EVERY rows; a progress line each time."""
    started, audio, work = time.perf_counter(), 0.0, 0.0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for n, (row, seconds, spent) in enumerate(pool.map(transcribe, jobs, chunksize=4), start=1):
            done[(row["source"], row["voice"], row["condition"])] = row
            audio, work = audio + seconds, work + spent
            if n % FLUSH_EVERY == 0 or n == len(jobs):
                write(out, done, keys)
                elapsed = time.perf_counter() - started
                click.echo(f"telephone: {n}/{len(jobs)} rows, {elapsed:.0f} s, {work / max(audio, 1e-9):.2f} "
                           f"CPU s per audio s, about {elapsed / n * (len(jobs) - n) / 60:.0f} min left", err=True)
    write(out, done, keys)


def planned(texts):
    """The (source, voice, condition) keys the corpus asks for today."""
    return {(text, c.voice, c.name) for text in texts for c in conditions.plan(text, in_validation(text))}


def write(path, done, keys):
    """Write the planned rows, sorted by source, voice and condition (rows no longer planned are dropped)."""
    rows = sorted((row for key, row in done.items() if key in keys),
                  key=lambda row: (row["source"], row["voice"], row["condition"]))
    partial = path.with_name(path.name + ".partial")
    with open_csv(partial, "w", compressed=path.suffix == ".gz") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)     # a run killed mid-write leaves the previous file whole


if __name__ == "__main__":
    sys.exit(main())
