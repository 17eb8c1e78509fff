"""Build the domain language model for PocketSphinx, with its card, into models/.

    python -m training.language_model [--data training/data/corpus.csv] [--out models/speech_lm.json]
                                      [--weight W] [--generic-words K] [--eval-sentences N] [--no-eval]
                                      [--if-stale]

The training split of the corpus only (rows `training.train.in_validation` holds out never enter it) gives an
interpolated Witten-Bell trigram; it is mixed with PocketSphinx's generic US-English model (weight W on the domain)
over the corpus words plus the K most frequent generic words, and written as ARPA (`speech_lm.arpa`). Corpus words
CMUdict lacks get pronunciations (`speech_lm.dict`, rules in `training.pronunciation`). The card
(`speech_lm.json`) holds data hashes, sizes, n-gram counts, build time and, unless --no-eval, the word error
rate of the app's path on held-out (validation) sentences spoken by flite voices and, reported apart, by
espeak-ng voices never used for tuning, before (generic model) and after.
"""
import argparse
import hashlib
import json
import random
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import click

from training.card import relative
from training.corpus import DATA, ROOT, CorpusError, in_validation, read_corpus
from training.train import SEED

CARD = ROOT / "models" / "speech_lm.json"
WEIGHT = 0.95            # chosen on validation sentences spoken by the flite voices (README: Speech recognition)
GENERIC_WORDS = 5000
EVAL_SENTENCES = 120


def say(message):
    click.echo(f"language_model: {message}", err=True)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def generic_paths():
    import pocketsphinx

    base = Path(pocketsphinx.get_model_path()) / "en-us"
    return base / "en-us.lm.bin", base / "cmudict-en-us.dict"


def split_corpus(data):
    """(training sentences, validation sentences) by the classifier's fixed split."""
    texts, _labels = read_corpus(data)
    return [t for t in texts if not in_validation(t)], [t for t in texts if in_validation(t)]


def build(data, card_path, weight=WEIGHT, generic_words=GENERIC_WORDS):
    """Write the ARPA model, extra dictionary and vocabulary beside the card; return the card without metrics."""
    from training.lm_mix import GenericModel, domain_model, mix, top_words, write_arpa
    from training.pronunciation import pronounce, read_dictionary

    started = time.perf_counter()
    train, validation = split_corpus(data)
    say(f"{len(train)} training sentences ({len(validation)} validation sentences held out)")
    domain = domain_model(train)
    generic_lm, cmudict = generic_paths()
    generic, dictionary = GenericModel(generic_lm), read_dictionary(cmudict)
    corpus_words = sorted({w for sentence in train for w in sentence.split()})
    vocabulary = sorted(set(corpus_words) | set(top_words(generic, dictionary, generic_words)))
    say(f"domain trigram built; mixing with the generic model over {len(vocabulary)} words (weight {weight})")
    base = Path(card_path).with_suffix("")
    arpa, extra, words = (base.with_suffix(suffix) for suffix in (".arpa", ".dict", ".vocab"))
    counts = write_arpa(mix(domain, generic, vocabulary, weight), arpa)
    missing = [w for w in corpus_words if w not in dictionary]
    extra.write_text("".join(f"{w} {pronounce(w, dictionary)}\n" for w in missing), encoding="utf-8")
    words.write_text("".join(f"{w}\n" for w in vocabulary), encoding="utf-8")
    say(f"wrote {arpa.name} ({counts}), {len(missing)} pronunciations in {extra.name}")
    now = datetime.now(timezone.utc)
    return {
        "name": "speech_lm", "version": now.strftime("%Y%m%d%H%M%S"), "built_at": now.isoformat(timespec="seconds"),
        "data": relative(data), "data_sha256": sha256(data),
        "rows": {"train": len(train), "validation_held_out": len(validation)},
        "smoothing": "interpolated Witten-Bell (nltk.lm), order 3", "nltk_version": version("nltk"),
        "generic": {"model": "pocketsphinx en-us.lm.bin", "pocketsphinx_version": version("pocketsphinx"),
                    "sha256": sha256(generic_lm), "words": generic_words},
        "domain_weight": weight, "ngrams": counts, "seed": SEED,
        "artifact": _entry(arpa), "dictionary": _entry(extra) | {"words": len(missing)},
        "vocabulary": _entry(words) | {"words": len(vocabulary)},
        "build_seconds": round(time.perf_counter() - started, 2),
    }


def _entry(path):
    return {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size}


def measure(data, card_path, sentences):
    """Held-out WER and CPU before (generic) and after (this domain model), per voice group."""
    from ivr.speech.domain_lm import read_card
    from ivr.speech.engines import PocketSphinxEngine
    from training.speech_wer import HELD_OUT_VOICES, TUNING_VOICES, evaluate, spoken_set

    _train, validation = split_corpus(data)
    chosen = sorted(validation)
    random.Random(SEED).shuffle(chosen)
    chosen = sorted(chosen[:sentences])
    engines = {"before": PocketSphinxEngine(), "after": PocketSphinxEngine(read_card(card_path))}
    metrics = {"sentences": len(chosen), "split": "validation"}
    for group, voices in (("flite", TUNING_VOICES), ("espeak_ng_held_out", HELD_OUT_VOICES)):
        items = spoken_set(chosen, voices, progress=say)
        metrics[group] = {"voices": list(voices)}
        for name, engine in engines.items():
            metrics[group][name] = evaluate(engine, items, progress=say)
            say(f"{group} {name}: {metrics[group][name]}")
    return metrics


def stale(data, card_path):
    """True when the card is missing or unreadable, names other data, or its files changed."""
    from ivr.speech.domain_lm import DomainModelError, read_card

    try:
        read_card(card_path)
        return json.loads(Path(card_path).read_text())["data_sha256"] != sha256(data)
    except (DomainModelError, KeyError, ValueError, OSError):
        return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA / "corpus.csv"))
    parser.add_argument("--out", default=str(CARD), help="the card; the model files are written beside it")
    parser.add_argument("--weight", type=float, default=WEIGHT, help="share of the domain model in the mix")
    parser.add_argument("--generic-words", type=int, default=GENERIC_WORDS)
    parser.add_argument("--eval-sentences", type=int, default=EVAL_SENTENCES)
    parser.add_argument("--no-eval", action="store_true", help="skip the WER measurement (needs flite, espeak-ng)")
    parser.add_argument("--if-stale", action="store_true", help="only build when the card does not match the data")
    args = parser.parse_args(argv)
    if not 0 < args.weight <= 1:
        parser.error("--weight must be in (0, 1]")
    if args.if_stale and not stale(args.data, args.out):
        say(f"{args.out} is up to date with its data")
        return 0
    try:
        card = build(args.data, args.out, args.weight, args.generic_words)
    except CorpusError as error:
        say(str(error))
        return 2
    Path(args.out).write_text(json.dumps(card, indent=2) + "\n")    # the model is usable before it is measured
    if not args.no_eval:
        started = time.perf_counter()
        card["metrics"] = measure(args.data, args.out, args.eval_sentences)
        card["eval_seconds"] = round(time.perf_counter() - started, 1)
        Path(args.out).write_text(json.dumps(card, indent=2) + "\n")
    say(f"card {args.out} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
