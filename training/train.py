"""Train the call-triage classifier and write it, with its model card, into models/.

    python -m training.train [--data training/data/corpus.csv] [--telephone training/data/telephone.csv.gz]
                             [--out models/triage.joblib] [--force] [--if-stale] [--from-db [DATABASE_URL]]

--from-db adds the transcripts of calls whose class an operator confirmed or corrected (the control room's
feedback) to the training rows; they never enter the validation fold, so scores stay comparable.

Rows whose text hashes into the validation fold (1 in 5, stable as the corpus grows) never train the model;
their telephone-channel transcripts are held out with them, and transcripts by the held-out voices
(training.conditions.HELD_OUT) never train it at all: they are scored apart. The pipeline (features, estimator,
smoothing) is chosen by 5-fold cross-validation on the training rows, grouped by sentence. A calibrator is
fitted on out-of-fold predictions for training voices' transcripts (training.calibrate). On the validation
rows, with calibrated probabilities: the emergency threshold keeps emergency recall at or above
EMERGENCY_RECALL on the clean text and on the transcripts each on its own; the early-route threshold keeps
EARLY_ROUTE_RECALL of the transcribed emergencies routed early. A new model does not replace the current one
if its validation macro-F1 is lower, unless --force.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import click
import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline

from ivr.config import load_config
from ivr.triage.calibration import CalibratedModel
from ivr.triage.cues import CueFeatures
from ivr.vocabulary import LABELS
from training import calibrate, card as model_card
from training.card import sha256, stale  # noqa: F401 - part of this module's interface
from training.conditions import HELD_OUT, base_voice
from training.corpus import (DATA, ROOT, TELEPHONE_PARTS, CorpusError, in_validation, open_csv,  # noqa: F401
                             read_corpus, read_from_db, read_telephone, split,
                             voice_word_error_rates)

SEED = 20261121
EMERGENCY_RECALL = 0.98     # the label: a keyless caller at or above the cut goes to the emergency desk
EARLY_ROUTE_RECALL = 0.90   # the live update before the keypad menu (TRIAGE_EMERGENCY_THRESHOLD overrides it)
EARLY_ROUTE_OPTIONS = (0.8, 0.9, 0.95, 0.98)
# A training voice whose transcripts have more words wrong than this (the espeak-ng formant voices through the
# domain model: 0.74-0.93) carries no words to learn from: its rows would teach the model noise and drag the
# recall-first cuts down to "anything unclear is an emergency". They are left out of training, calibration and
# the cuts, and named in the card; held-out voices are always scored, heard or not.
MAX_VOICE_WER = 0.75
MIN_CALIBRATION_ROWS = 200  # fewer transcripts than this: calibrate on every training row instead
CANDIDATES = [
    {"estimator": estimator, "alpha": alpha, "features": features}
    for estimator in ("complement", "multinomial")
    for alpha in (0.1, 0.3)
    for features in ("words+chars", "words+chars+cues")
]


def build_pipeline(estimator="complement", alpha=0.3, features="words+chars"):
    """TF-IDF word and character n-grams (and caller cues), Naive Bayes (calibrated apart: training.calibrate)."""
    # min_df=2: n-grams seen once are mostly recogniser noise; dropping them scored better and halves the model
    parts = [("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
             ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2))]
    if features.endswith("+cues"):
        parts.append(("cues", CueFeatures()))
    nb = (ComplementNB if estimator == "complement" else MultinomialNB)(alpha=alpha)
    return Pipeline([("features", FeatureUnion(parts)), ("nb", nb)])


def scores(truth, predicted):
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion counts (true -> predicted)."""
    labels = list(LABELS)
    precision, recall, f1, _ = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    confusion = {t: {p: 0 for p in labels + ["none"]} for t in labels}
    for t, p in zip(truth, predicted):
        confusion[t][p if p in LABELS else "none"] += 1
    return {
        "n": len(truth),
        "accuracy": round(float(np.mean([t == p for t, p in zip(truth, predicted)])) if truth else 0.0, 4),
        "macro_f1": round(float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4),
        "per_class": {label: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                              "f1": round(float(f1[i]), 4)} for i, label in enumerate(labels)},
        "confusion": confusion,
    }


def folds():
    """5 folds, grouped by source sentence: a sentence's transcripts never score a model trained on its text."""
    return StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=SEED)


def select(texts, labels, groups, candidates=CANDIDATES):
    """Cross-validate every candidate on the training rows; return (best, table)."""
    table = []
    for candidate in candidates:
        predicted = cross_val_predict(build_pipeline(**candidate), texts, labels, groups=groups, cv=folds())
        measured = scores(labels, predicted)
        table.append({**candidate, "cv_macro_f1": measured["macro_f1"],
                      "cv_emergency_recall": measured["per_class"]["emergency"]["recall"]})
    best = max(table, key=lambda row: (row["cv_macro_f1"], row["cv_emergency_recall"]))
    return {k: best[k] for k in ("estimator", "alpha", "features")}, table


def emergency_threshold(pipeline, *held_out, target=EMERGENCY_RECALL):
    """The highest P(emergency) cut that keeps emergency recall >= TARGET on each (texts, labels) set
    given: callers reach the app through the telephone channel, so the transcripts must meet it on their own,
    not only pooled with the clean text."""
    column = list(pipeline.classes_).index("emergency")
    cuts = []
    for texts, labels in held_out:
        truth = np.array([label == "emergency" for label in labels])
        if not truth.sum():
            continue
        p_emergency = pipeline.predict_proba(texts)[:, column]
        best = 0.0
        for cut in np.unique(np.round(p_emergency[truth], 4)):
            if (p_emergency[truth] >= cut).mean() >= target:
                best = max(best, float(cut))
        cuts.append(best)
    return round(min(cuts, default=0.0), 4)


def predict(pipeline, texts, threshold):
    """Labels as the app assigns them: emergency when P(emergency) >= threshold, else the most probable class."""
    probabilities = pipeline.predict_proba(texts)
    classes = list(pipeline.classes_)
    column = classes.index("emergency")
    return [classes[column] if row[column] >= threshold else classes[int(np.argmax(row))] for row in probabilities]


def train(data, out, telephone_path=None, extra=(), force=False, candidates=None):
    """Select, fit, calibrate, threshold and write the artifact and its card; return the card (None if refused)."""
    started = time.perf_counter()
    texts, labels = read_corpus(data)
    telephone = read_telephone(telephone_path)
    voices = voice_word_error_rates(telephone)
    unheard = {voice for voice, wer in voices.items() if wer > MAX_VOICE_WER}
    if unheard:
        _stage(f"leaving out voices the recogniser does not hear (WER > {MAX_VOICE_WER}): {', '.join(sorted(unheard))}")
    parts = split(texts, labels, telephone, unheard)
    rows = _training_rows(parts, extra)
    _stage(f"selecting the pipeline on {len(rows[0])} rows ({len(candidates or CANDIDATES)} candidates)")
    choice, table = select(*rows, candidates or CANDIDATES)
    _stage("calibrating on out-of-fold predictions for training voices' transcripts")
    clean, copies = len(parts["train"][0]), len(parts["train_telephone"][0])
    model, calibration_table = fit_calibrated(choice, rows, slice(clean, clean + copies))
    threshold = emergency_threshold(model, *(parts[name][:2] for name in ("validation", "validation_telephone")
                                             if parts[name][0]))
    early = emergency_threshold(model, parts["validation_telephone"][:2], target=EARLY_ROUTE_RECALL) \
        if parts["validation_telephone"][0] else threshold
    metrics = {name: scores(parts[name][1], predict(model, parts[name][0], threshold))
               for name in ("validation", *TELEPHONE_PARTS) if parts[name][0]}
    metrics["heldout_by_voice"] = by_voice(model, parts["heldout_telephone"], threshold)
    metrics["selection"] = table
    metrics["voices"] = {voice: {"wer": wer, "used": voice not in unheard and voice not in HELD_OUT}
                         for voice, wer in voices.items()}
    calibration = calibration_card(model, parts, threshold, early, calibration_table)
    if not force and not better_than_current(out, metrics["validation"]["macro_f1"], parts["validation"]):
        return None
    targets = {"emergency": EMERGENCY_RECALL, "early_route": EARLY_ROUTE_RECALL, "seed": SEED}
    return model_card.write(model, out, data, telephone_path, choice, (threshold, early), metrics, calibration,
                            parts, extra, started, targets)


def _stage(message):
    click.echo(f"train: {message}", err=True)


def _training_rows(parts, extra):
    """(texts, labels, groups) the model trains on: training sentences, their transcripts, operator labels."""
    return (parts["train"][0] + parts["train_telephone"][0] + [text for _, text in extra],
            parts["train"][1] + parts["train_telephone"][1] + [label for label, _ in extra],
            parts["train"][2] + parts["train_telephone"][2] + [text for _, text in extra])


def fit_calibrated(choice, rows, transcripts):
    """The chosen pipeline fitted on all training rows, with a calibrator fitted on out-of-fold predictions for
    the rows in the slice TRANSCRIPTS (training voices' transcripts); on all rows if there are too few."""
    texts, labels, groups = rows
    base = build_pipeline(**choice)
    p = cross_val_predict(base, texts, labels, groups=groups, cv=folds(), method="predict_proba")
    base.fit(texts, labels)
    classes = list(base.classes_)
    y = np.array([classes.index(label) for label in labels])
    chosen = np.arange(len(texts))[transcripts]
    if len(chosen) < MIN_CALIBRATION_ROWS:
        chosen = np.arange(len(texts))
    calibrator, table = calibrate.choose(p[chosen], y[chosen], np.array(groups)[chosen], SEED)
    return CalibratedModel(base, calibrator), {"method": calibrator.method, "fitted_on": int(len(chosen)),
                                               "selection": table}


def by_voice(model, part, threshold):
    """Macro-F1 and emergency recall per held-out voice (espeak-ng variants pooled)."""
    result = {}
    for voice in sorted({base_voice(v) for v in part[2]}):
        chosen = [i for i, v in enumerate(part[2]) if base_voice(v) == voice]
        measured = scores([part[1][i] for i in chosen], predict(model, [part[0][i] for i in chosen], threshold))
        result[voice] = {"n": measured["n"], "macro_f1": measured["macro_f1"],
                         "emergency_recall": measured["per_class"]["emergency"]["recall"]}
    return result


def calibration_card(model, parts, threshold, early, selection):
    """Before (the Naive Bayes scores) and after (calibrated) on the transcripts, and the early-route cut."""
    card = {**selection, "ece_bins": 10}
    before_cut = emergency_threshold(model.base, *(parts[name][:2] for name in ("validation", "validation_telephone")
                                                   if parts[name][0]))
    for name in TELEPHONE_PARTS:
        if parts[name][0]:
            card[name] = {"before": calibrate.report(model.base, *parts[name][:2], before_cut),
                          "after": calibrate.report(model, *parts[name][:2], threshold)}
            card[name]["early_route"] = calibrate.early_route(model, *parts[name][:2], early)
            for line in calibrate.table_lines(name, card[name]["before"], card[name]["after"]):
                click.echo(f"train: {line}", err=True)
    card["early_route_options"] = early_route_options(model, parts)
    return card


def early_route_options(model, parts):
    """What other early-route recall targets would cost in false early routes (validation and held-out voices),
    for a site that sets TRIAGE_EMERGENCY_THRESHOLD itself."""
    options = []
    for target in EARLY_ROUTE_OPTIONS:
        if not parts["validation_telephone"][0]:
            break
        cut = emergency_threshold(model, parts["validation_telephone"][:2], target=target)
        options.append({"target": target, "threshold": cut} | {
            name: calibrate.early_route(model, *parts[name][:2], cut) for name in TELEPHONE_PARTS if parts[name][0]})
    return options


def better_than_current(out, macro_f1, validation):
    """Does the new model at least match the current one on today's validation rows?"""
    if not Path(out).exists() or not Path(out).with_suffix(".json").exists():
        return True
    try:
        card = json.loads(Path(out).with_suffix(".json").read_text())
        current = joblib.load(out)
        old = scores(validation[1], predict(current, validation[0], card.get("emergency_threshold", 1.1)))
    except Exception as error:  # noqa: BLE001 - an unreadable current model is replaced
        click.echo(f"train: current model unreadable ({error}); replacing it", err=True)
        return True
    if macro_f1 < old["macro_f1"]:
        click.echo(f"train: validation macro-F1 {macro_f1} < current model's {old['macro_f1']}: "
              f"keeping {out} (use --force to replace it)", err=True)
        return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA / "corpus.csv"))
    parser.add_argument("--telephone", default=str(DATA / "telephone.csv.gz"),
                        help="telephone-channel transcripts (python -m training.telephone); '' for none")
    parser.add_argument("--out", default=str(ROOT / "models" / "triage.joblib"))
    parser.add_argument("--force", action="store_true", help="replace the current model even if it scores better")
    parser.add_argument("--from-db", nargs="?", const=load_config()["DATABASE_URL"], metavar="DATABASE_URL",
                        help="also train on calls whose class an operator confirmed or corrected (default: the app's DB)")
    parser.add_argument("--if-stale", action="store_true",
                        help="only train when the artifact is missing or was trained on other data")
    args = parser.parse_args(argv)
    if args.if_stale and not stale(args.data, args.out, args.telephone):
        click.echo(f"train: {args.out} is up to date with its data", err=True)
        return 0
    try:
        extra = read_from_db(args.from_db, read_corpus(args.data)[0]) if args.from_db else ()
        card = train(args.data, args.out, args.telephone, extra=extra, force=args.force)
    except CorpusError as error:
        click.echo(f"train: {error}", err=True)
        return 2
    if card is None:
        return 1
    summary = {k: card[k] for k in ("version", "pipeline", "emergency_threshold", "early_route_threshold", "rows",
                                    "training_seconds")}
    summary["macro_f1"] = {k: card["metrics"][k]["macro_f1"] for k in ("validation", *TELEPHONE_PARTS)
                           if k in card["metrics"]}
    summary["emergency_recall"] = {k: card["metrics"][k]["per_class"]["emergency"]["recall"]
                                   for k in ("validation", *TELEPHONE_PARTS) if k in card["metrics"]}
    summary["heldout_by_voice"] = card["metrics"]["heldout_by_voice"]
    summary["calibration"] = {k: {"ece": [v["before"]["ece"], v["after"]["ece"]], "early_route": v["early_route"]}
                              for k, v in card["calibration"].items() if isinstance(v, dict) and "before" in v}
    summary["calibration"]["method"] = card["calibration"]["method"]
    click.echo(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
