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
   settings), each a different committed emergency recording; seconds from the end of the caller's sentence
   to the live-call update, as a ratio to PocketSphinx's endpointer window (the silence it must hear before
   an utterance can end).
"""
import argparse
import csv
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._common import ACCOUNT, FIXTURES, ROOT, SECRET, TOKEN, Gunicorn, emit, make_database, percentile, ratio  # noqa: E402

MODEL = ROOT / "models" / "triage.joblib"
EMERGENCY_WAVS = ("emergency_fire", "emergency_knife")
ENDPOINTER_WINDOW = 0.3   # pocketsphinx.Endpointer's default window, seconds


def texts():
    rows = []
    for name in ("corpus.csv", "telephone.csv"):
        path = ROOT / "training" / "data" / name
        if path.exists():
            with open(path, newline="", encoding="utf-8") as handle:
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
        card = train.train(train.DATA / "corpus.csv", Path(tmp) / "m.joblib", train.DATA / "telephone.csv",
                           force=True)
        whole = time.perf_counter() - started
        corpus, labels = train.read_corpus(train.DATA / "corpus.csv")
        started = time.perf_counter()
        train.build_pipeline(**card["pipeline"]).fit(corpus, labels)
        one_fit = time.perf_counter() - started
    return {"seconds": round(whole, 2), "one_fit_seconds": round(one_fit, 2), "ratio_to_one_fit": ratio(whole, one_fit),
            "candidates": len(card["metrics"]["selection"]), "rows": card["rows"]}


def early_routing(calls):
    from ivr.tools import simulate

    stand_in = simulate.ApiStandIn(0, ACCOUNT, TOKEN)
    with tempfile.TemporaryDirectory() as tmp:
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
                    wav = FIXTURES / f"{EMERGENCY_WAVS[n % len(EMERGENCY_WAVS)]}.wav"
                    args = simulate.parse_args(["--url", server.url, "--auth-token", TOKEN, "--account-sid", ACCOUNT,
                                                "--wav", str(wav), "--digit", "3"])
                    outcome = simulate.simulate(args, stand_in=stand_in)
                    with lock:
                        outcomes.append(outcome)

                for start in range(0, calls, 2):       # two calls at a time, staggered: a realistic trickle
                    threads = [threading.Thread(target=place, args=(n,)) for n in range(start, min(start + 2, calls))]
                    for thread in threads:
                        thread.start()
                        time.sleep(1.5)
                    for thread in threads:
                        thread.join(timeout=120)
        finally:
            stand_in.close()
    delays = [o["speech_end_to_update_seconds"] for o in outcomes if "speech_end_to_update_seconds" in o]
    return {"calls": calls, "routed_early": len(delays),
            "routed_to_emergency": sum(o["route_target"] == "+15005550101" for o in outcomes),
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
                    f"{e['routed_early']}/{e['calls']} calls")
    emit(figures, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
