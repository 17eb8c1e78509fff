"""Train the call-triage classifier and write it, with its model card, into models/.

    python -m training.train [--data training/data/corpus.csv] [--telephone training/data/telephone.csv]
                             [--out models/triage.joblib] [--force] [--if-stale] [--from-db [DATABASE_URL]]

--from-db adds the transcripts of calls whose class an operator confirmed or corrected (the control room's
feedback) to the training rows; they never enter the validation fold, so scores stay comparable.

Rows whose text hashes into the validation fold (1 in 5, stable as the corpus grows) never train the model;
their telephone-channel transcripts are held out with them. The pipeline (features, estimator, smoothing)
is chosen by 5-fold cross-validation on the training rows; the emergency threshold is chosen on the
validation rows so that emergency recall stays at or above EMERGENCY_RECALL on the clean text and on the
telephone transcripts, each on its own. A new model does not replace
the current one if its validation macro-F1 is lower, unless --force.
"""
import argparse
import csv
import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click
import joblib
import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline

from ivr.config import load_config
from ivr.triage.cues import CueFeatures
from ivr.vocabulary import LABELS

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "training" / "data"
SEED = 20261121
EMERGENCY_RECALL = 0.97
VALIDATION_SHARE = 5        # one row in five
CANDIDATES = [
    {"estimator": estimator, "alpha": alpha, "features": features}
    for estimator in ("complement", "multinomial")
    for alpha in (0.1, 0.3)
    for features in ("words+chars", "words+chars+cues")
]


class CorpusError(ValueError):
    """A corpus row that cannot be trained on; the message names the line."""


def normalise(text):
    return " ".join((text or "").split())


def read_corpus(path):
    """Read `label,text` rows; reject unknown labels, empty texts and duplicates with their line number."""
    texts, labels, seen = [], [], {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"label", "text"} <= set(reader.fieldnames):
            raise CorpusError(f"{path}: line 1: header must have the columns label,text")
        for row in reader:
            line = reader.line_num
            label, text = (row["label"] or "").strip(), normalise(row["text"])
            if label not in LABELS:
                raise CorpusError(f"{path}: line {line}: unknown label {label!r} (expected one of {', '.join(LABELS)})")
            if not text:
                raise CorpusError(f"{path}: line {line}: empty text")
            if text.lower() in seen:
                raise CorpusError(f"{path}: line {line}: duplicate of line {seen[text.lower()]}")
            seen[text.lower()] = line
            texts.append(text)
            labels.append(label)
    return texts, labels


def read_from_db(url, known=()):
    """(label, transcript) of calls whose class an operator confirmed or corrected in the control room."""
    from sqlalchemy import select

    from ivr.store import Database
    from ivr.store.models import Call

    db = Database().configure(url)
    try:
        with db.reader() as session:
            rows = session.execute(select(Call.operator_label, Call.transcript).where(
                Call.operator_label.in_(LABELS), Call.transcript != "")).all()
    finally:
        db.dispose()
    seen = {text.lower() for text in known}
    extra = []
    for label, text in rows:
        text = normalise(text)
        if text and text.lower() not in seen:
            seen.add(text.lower())
            extra.append((label, text))
    return extra


def read_telephone(path):
    """Telephone-channel transcripts as {source sentence: [(label, transcript), ...]} (see training.telephone)."""
    copies = {}
    if path and Path(path).exists():
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["text"].strip() and row["label"] in LABELS:
                    copies.setdefault(normalise(row["source"]), []).append((row["label"], normalise(row["text"])))
    return copies


def in_validation(text):
    """The fixed validation fold: decided by the text itself, so adding rows never moves old ones."""
    return int(hashlib.sha1(normalise(text).lower().encode()).hexdigest(), 16) % VALIDATION_SHARE == 0


def build_pipeline(estimator="complement", alpha=0.3, features="words+chars"):
    """TF-IDF word and character n-grams (and caller cues), Naive Bayes, sigmoid-calibrated probabilities."""
    # min_df=2: n-grams seen once are mostly recogniser noise; dropping them scored better and halves the model
    parts = [("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
             ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2))]
    if features.endswith("+cues"):
        parts.append(("cues", CueFeatures()))
    nb = (ComplementNB if estimator == "complement" else MultinomialNB)(alpha=alpha)
    # ensemble=False: one NB fitted on all data, calibrated on cross-validated predictions (a small artifact)
    return Pipeline([("features", FeatureUnion(parts)),
                     ("nb", CalibratedClassifierCV(nb, method="sigmoid", cv=5, ensemble=False))])


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


def select(texts, labels, candidates=CANDIDATES):
    """Cross-validate every candidate on the training rows; return (best, table)."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    table = []
    for candidate in candidates:
        predicted = cross_val_predict(build_pipeline(**candidate), texts, labels, cv=folds)
        measured = scores(labels, predicted)
        table.append({**candidate, "cv_macro_f1": measured["macro_f1"],
                      "cv_emergency_recall": measured["per_class"]["emergency"]["recall"]})
    best = max(table, key=lambda row: (row["cv_macro_f1"], row["cv_emergency_recall"]))
    return {k: best[k] for k in ("estimator", "alpha", "features")}, table


def emergency_threshold(pipeline, *held_out):
    """The highest P(emergency) cut that keeps emergency recall >= EMERGENCY_RECALL on each (texts, labels) set
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
            if (p_emergency[truth] >= cut).mean() >= EMERGENCY_RECALL:
                best = max(best, float(cut))
        cuts.append(best)
    return round(min(cuts, default=0.0), 4)


def predict(pipeline, texts, threshold):
    """Labels as the app assigns them: emergency when P(emergency) >= threshold, else the most probable class."""
    probabilities = pipeline.predict_proba(texts)
    classes = list(pipeline.classes_)
    column = classes.index("emergency")
    return [classes[column] if row[column] >= threshold else classes[int(np.argmax(row))] for row in probabilities]


def split(texts, labels, telephone):
    """Training and validation rows; telephone copies follow their source sentence."""
    parts = {"train": ([], []), "validation": ([], []), "validation_telephone": ([], []),
             "train_telephone": ([], [])}
    for text, label in zip(texts, labels):
        held_out = in_validation(text)
        parts["validation" if held_out else "train"][0].append(text)
        parts["validation" if held_out else "train"][1].append(label)
        for copy_label, copy in telephone.get(text, ()):
            key = "validation_telephone" if held_out else "train_telephone"
            parts[key][0].append(copy)
            parts[key][1].append(copy_label)
    return parts


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train(data, out, telephone_path=None, extra=(), force=False, candidates=None):
    """Select, fit, threshold and write the artifact and its card; return the card (None if refused)."""
    started = time.perf_counter()
    texts, labels = read_corpus(data)
    parts = split(texts, labels, read_telephone(telephone_path))
    train_texts = parts["train"][0] + parts["train_telephone"][0] + [t for _, t in extra]
    train_labels = parts["train"][1] + parts["train_telephone"][1] + [label for label, _ in extra]
    choice, table = select(train_texts, train_labels, candidates or CANDIDATES)
    pipeline = build_pipeline(**choice).fit(train_texts, train_labels)
    threshold = emergency_threshold(pipeline, *(parts[name] for name in ("validation", "validation_telephone")
                                                 if parts[name][0]))
    metrics = {name: scores(parts[name][1], predict(pipeline, parts[name][0], threshold))
               for name in ("validation", "validation_telephone") if parts[name][0]}
    metrics["selection"] = table
    if not force and not better_than_current(out, metrics["validation"]["macro_f1"], parts["validation"]):
        return None
    return write(pipeline, out, data, telephone_path, choice, threshold, metrics, parts, extra, started)


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


def write(pipeline, out, data, telephone_path, choice, threshold, metrics, parts, extra, started):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out, compress=("xz", 6))   # about a third smaller than zlib; loads in ~0.1 s
    now = datetime.now(timezone.utc)
    card = {
        "name": "triage",
        "version": now.strftime("%Y%m%d%H%M%S"),
        "trained_at": now.isoformat(timespec="seconds"),
        "labels": [str(label) for label in pipeline.classes_],
        "pipeline": choice,
        "emergency_threshold": threshold,
        "emergency_recall_target": EMERGENCY_RECALL,
        "data": _relative(data),
        "data_sha256": sha256(data),
        "telephone": _relative(telephone_path) if telephone_path and Path(telephone_path).exists() else None,
        "telephone_sha256": sha256(telephone_path) if telephone_path and Path(telephone_path).exists() else None,
        "rows": {name: len(rows[0]) for name, rows in parts.items()} | {"from_db": len(extra)},
        "seed": SEED,
        "metrics": metrics,
        "training_seconds": round(time.perf_counter() - started, 2),
        "sklearn_version": sklearn.__version__,
        "artifact": out.name,
        "artifact_sha256": sha256(out),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def _relative(path):
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def stale(data, out, telephone_path=None):
    """True when the artifact or its card is missing, or the card names other training data."""
    card = Path(out).with_suffix(".json")
    if not Path(out).exists() or not card.exists():
        return True
    try:
        card = json.loads(card.read_text())
    except ValueError:
        return True
    telephone = sha256(telephone_path) if telephone_path and Path(telephone_path).exists() else None
    return card.get("data_sha256") != sha256(data) or card.get("telephone_sha256") != telephone


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA / "corpus.csv"))
    parser.add_argument("--telephone", default=str(DATA / "telephone.csv"),
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
    summary = {k: card[k] for k in ("version", "pipeline", "emergency_threshold", "rows", "training_seconds")}
    summary["validation"] = {k: card["metrics"][k]["macro_f1"] for k in ("validation", "validation_telephone")
                             if k in card["metrics"]}
    click.echo(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
