"""Triage benchmarks: classification latency per transcript, training time, and end-of-speech-to-route.

    .venv/bin/python -m tests.bench.bench_triage [--calls 20] [--skip-calls]

1. Latency of Classifier.classify on every corpus and telephone transcript (p50/p99 in ms), as a ratio to the
   word TF-IDF transform alone on the same texts (the cheapest step any text model pays). classify is the
   pipeline's predict_proba under sklearn.config_context(assume_finite=True, skip_parameter_validation=True);
   the same pipeline's predict_proba with scikit-learn's default settings is timed beside it, on the same texts
   in rotating order, so the run shows what those settings save.
2. Training time of `python -m training.train` into a temporary folder, as a ratio to one fit of the chosen
   pipeline (training = model selection by cross-validation + calibration + threshold).
3. Early routing: N simulated emergency calls in real time against the app under gunicorn (production
   settings), each a different validation sentence (never trained on) spoken by the held-out voice flite rms
   down a G.711 line; the share routed early, and seconds from the end of the caller's sentence to the
   live-call update, as a ratio to PocketSphinx's endpointer window (the silence it must hear before an
   utterance can end). As many non-emergency validation sentences are placed the same way: those routed early
   are false early routes.
"""
import argparse
import csv
import hashlib
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._common import ACCOUNT, ROOT, SECRET, TOKEN, Gunicorn, emit, make_database, percentile, ratio  # noqa: E402

MODEL = ROOT / "models" / "triage.joblib"
VOICE = "flite:rms"        # held out of the classifier's training (training.conditions.HELD_OUT)
ENDPOINTER_WINDOW = 0.3   # pocketsphinx.Endpointer's default window, seconds


def texts():
    from training.corpus import open_csv

    rows = []
    for name in ("corpus.csv", "telephone.csv.gz"):
        path = ROOT / "training" / "data" / name
        if path.exists():
            with open_csv(path) as handle:
                rows += [row["text"] for row in csv.DictReader(handle) if row["text"].strip()]
    return rows


def classification_latency():
    from sklearn.feature_extraction.text import TfidfVectorizer

    import joblib

    from ivr.triage.classifier import Classifier

    classifier, corpus = Classifier(MODEL), texts()
    pipeline = joblib.load(MODEL)   # the same artifact, called with scikit-learn's default settings
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(corpus)
    ways = [("baseline", lambda text: words.transform([text])), ("classify", classifier.classify),
            ("default", lambda text: pipeline.predict_proba([" ".join(text.split())]))]
    for text in corpus[:50]:
        for _, way in ways:
            way(text)
    timings = {name: [] for name, _ in ways}
    for n, text in enumerate(corpus):
        for name, way in ways[n % 3:] + ways[:n % 3]:
            started = time.perf_counter()
            way(text)
            timings[name].append((time.perf_counter() - started) * 1000)
    p50, p99 = ({name: percentile(values, q) for name, values in timings.items()} for q in (50, 99))
    return {"transcripts": len(corpus), "p50_ms": round(p50["classify"], 3), "p99_ms": round(p99["classify"], 3),
            "baseline_p50_ms": round(p50["baseline"], 3), "baseline_p99_ms": round(p99["baseline"], 3),
            "ratio_p99": ratio(p99["classify"], p99["baseline"]),
            "sklearn_default_p50_ms": round(p50["default"], 3), "sklearn_default_p99_ms": round(p99["default"], 3),
            "sklearn_default_ratio_p99": ratio(p99["default"], p99["baseline"]),
            "meets_1ms_p99": p99["classify"] <= 1.0}


def training_time():
    from training import train

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        card = train.train(train.DATA / "corpus.csv", Path(tmp) / "m.joblib", train.DATA / "telephone.csv.gz",
                           force=True)
        whole = time.perf_counter() - started
        corpus, labels = train.read_corpus(train.DATA / "corpus.csv")
        started = time.perf_counter()
        train.build_pipeline(**card["pipeline"]).fit(corpus, labels)
        one_fit = time.perf_counter() - started
    return {"seconds": round(whole, 2), "one_fit_seconds": round(one_fit, 2), "ratio_to_one_fit": ratio(whole, one_fit),
            "candidates": len(card["metrics"]["selection"]), "rows": card["rows"]}


def unseen_sentences(label, count):
    """COUNT validation sentences of LABEL (never trained on, by the classifier or the domain language model), in
    a fixed order that does not depend on the corpus file's order."""
    from training.corpus import in_validation, read_corpus

    texts, labels = read_corpus(ROOT / "training" / "data" / "corpus.csv")
    chosen = sorted((t for t, lab in zip(texts, labels) if lab == label and in_validation(t)),
                    key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    return chosen[:count]


def spoken(texts, folder):
    """A telephone-line WAV of each text, spoken by VOICE (a voice the classifier never trained on)."""
    from ivr.speech.audio import write_mulaw_wav
    from training.speech_wer import LEAD, TAIL, speak

    paths = []
    for n, text in enumerate(texts):
        path = Path(folder) / f"caller-{n}.wav"
        write_mulaw_wav(path, speak(text, VOICE)[LEAD:-TAIL])   # the simulator adds the line's silence itself
        paths.append(path)
    return paths


def early_routing(calls):
    """CALLS unseen emergency sentences and as many unseen other sentences, spoken by VOICE and placed as real-time
    calls: emergencies routed early (and how fast after the caller stopped speaking), others routed early wrongly."""
    from ivr.tools import simulate

    stand_in = simulate.ApiStandIn(0, ACCOUNT, TOKEN)
    with tempfile.TemporaryDirectory() as tmp:
        others = [t for label in ("inquiry", "complaint", "spam") for t in unseen_sentences(label, calls // 3 + 1)]
        sentences = [("emergency", t) for t in unseen_sentences("emergency", calls)] + \
                    [("other", t) for t in others[:calls]]
        wavs = spoken([t for _, t in sentences], tmp)
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        make_database(database_url)
        env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
               "SECRET_KEY": SECRET,
               "TWILIO_API_BASE": f"http://127.0.0.1:{stand_in.port}", "ASR_ENGINE": "pocketsphinx",
               "IVR_LISTEN_SECONDS": "10", "LOG_LEVEL": "WARNING"}
        outcomes, lock = [], threading.Lock()
        try:
            with Gunicorn(env) as server:
                def place(n):
                    args = simulate.parse_args(["--url", server.url, "--auth-token", TOKEN, "--account-sid", ACCOUNT,
                                                "--wav", str(wavs[n]), "--digit", "3"])
                    outcome = simulate.simulate(args, stand_in=stand_in)
                    with lock:
                        outcomes.append((sentences[n][0], outcome))

                for start in range(0, len(sentences), 2):    # two calls at a time, staggered: a realistic trickle
                    threads = [threading.Thread(target=place, args=(n,))
                               for n in range(start, min(start + 2, len(sentences)))]
                    for thread in threads:
                        thread.start()
                        time.sleep(1.5)
                    for thread in threads:
                        thread.join(timeout=120)
                    sys.stderr.write(f"early routing: {len(outcomes)}/{len(sentences)} calls done\n")
        finally:
            stand_in.close()
    early = [o for kind, o in outcomes if kind == "emergency" and o["routed_by"] == "live-update"]
    delays = [o["speech_end_to_update_seconds"] for o in early if "speech_end_to_update_seconds" in o]
    wrong = [o for kind, o in outcomes if kind == "other" and o["routed_by"] == "live-update"]
    return {"calls": calls, "voice": VOICE, "routed_early": len(early),
            "routed_before_speech_ended": len(early) - len(delays),
            "routed_to_emergency": sum(o["route_target"] == "+15005550101" for kind, o in outcomes
                                       if kind == "emergency"),
            "other_calls": len(sentences) - calls, "others_routed_early": len(wrong),
            "median_seconds": round(percentile(delays, 50), 3), "p90_seconds": round(percentile(delays, 90), 3),
            "max_seconds": round(max(delays), 3) if delays else None,
            "ratio_median_to_endpointer_window": ratio(percentile(delays, 50), ENDPOINTER_WINDOW)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--skip-calls", action="store_true")
    args = parser.parse_args(argv)
    figures = {"benchmark": "triage", "classification": classification_latency(), "training": training_time()}
    if not args.skip_calls:
        figures["early_routing"] = early_routing(args.calls)
    c, t = figures["classification"], figures["training"]
    summary = (f"classify p99 {c['p99_ms']} ms (x{c['ratio_p99']} of word TF-IDF alone; scikit-learn's default "
               f"settings: {c['sklearn_default_p99_ms']} ms, x{c['sklearn_default_ratio_p99']}); "
               f"training {t['seconds']} s (x{t['ratio_to_one_fit']} of one fit)")
    if "early_routing" in figures:
        e = figures["early_routing"]
        summary += (f"; end of speech to route: median {e['median_seconds']} s, p90 {e['p90_seconds']} s over "
                    f"{e['routed_early']}/{e['calls']} emergencies routed early; {e['others_routed_early']}/"
                    f"{e['other_calls']} other calls routed early")
    emit(figures, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
