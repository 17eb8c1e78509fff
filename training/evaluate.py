"""Score the model the app would load on any labelled CSV and print one JSON object.

    python -m training.evaluate FILE.csv [--model models/triage.joblib] [--held-out] [--calibration]

FILE.csv has the columns `label,text`. Output keys (a contract: other tools read them): n, accuracy,
macro_f1, per_class {label: {precision, recall, f1}}, confusion {true label: {predicted label or none: count}}.
--held-out keeps only the rows spoken by held-out voices (training.conditions.HELD_OUT) of validation sentences
(FILE.csv then needs the columns voice and source, as training/data/telephone.csv.gz has; a .gz file is read
compressed). --calibration adds
the key calibration {n, ece, emergency_ece, reliability}: how well the shown confidence matches accuracy.
"""
import argparse
import csv
import json
import sys

import click

from ivr.config import load_config
from ivr.triage.calibration import reliability
from ivr.triage.classifier import Classifier, ModelError
from ivr.vocabulary import LABELS
from training.conditions import HELD_OUT, base_voice
from training.corpus import in_validation, open_csv
from training.train import scores


def rows(path, held_out=False):
    """(label, text) rows of the CSV, checked; with HELD_OUT only held-out voices on validation sentences."""
    with open_csv(path) as handle:
        reader = csv.DictReader(handle)
        needed = {"label", "text"} | ({"voice", "source"} if held_out else set())
        if reader.fieldnames is None or not needed <= set(reader.fieldnames):
            raise ValueError(f"{path}: header must have the columns {','.join(sorted(needed))}")
        for row in reader:
            if row["label"] not in LABELS:
                raise ValueError(f"{path}: line {reader.line_num}: unknown label {row['label']!r}")
            if held_out and not (base_voice(row["voice"]) in HELD_OUT and in_validation(row["source"])):
                continue
            yield row["label"], row["text"]


def evaluate(path, model_path, held_out=False, calibration=False):
    """Classify every row with the app's own Classifier (model card checks and emergency cut included)."""
    classifier = Classifier(model_path)
    truth, readings = [], []
    for label, text in rows(path, held_out):
        truth.append(label)
        readings.append(classifier.classify(text))
    result = scores(truth, [reading.label or "none" for reading in readings])
    if calibration:
        table = reliability([r.confidence for r in readings], [r.label == t for r, t in zip(readings, truth)])
        emergency = reliability([r.probabilities.get("emergency", 0.0) for r in readings],
                                [t == "emergency" for t in truth])
        result["calibration"] = {"n": len(truth), "ece": table["ece"], "emergency_ece": emergency["ece"],
                                 "reliability": table["table"]}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--model", default=load_config()["TRIAGE_MODEL_PATH"])
    parser.add_argument("--held-out", action="store_true", help="only held-out voices on validation sentences")
    parser.add_argument("--calibration", action="store_true", help="add expected calibration error and a table")
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.file, args.model, args.held_out, args.calibration)
    except (OSError, ValueError, ModelError) as error:
        click.echo(f"evaluate: {error}", err=True)
        return 2
    click.echo(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
