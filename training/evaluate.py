"""Score the model the app would load on any labelled CSV and print one JSON object.

    python -m training.evaluate FILE.csv [--model models/triage.joblib]

FILE.csv has the columns `label,text`. Output keys (a contract: other tools read them): n, accuracy,
macro_f1, per_class {label: {precision, recall, f1}}, confusion {true label: {predicted label or none: count}}.
"""
import argparse
import csv
import json
import sys

import click

from ivr.config import load_config
from ivr.triage.classifier import Classifier, ModelError
from ivr.vocabulary import LABELS
from training.train import scores


def evaluate(path, model_path):
    """Classify every row with the app's own Classifier (model card checks and emergency cut included)."""
    classifier = Classifier(model_path)
    truth, predicted = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"label", "text"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: header must have the columns label,text")
        for row in reader:
            if row["label"] not in LABELS:
                raise ValueError(f"{path}: line {reader.line_num}: unknown label {row['label']!r}")
            truth.append(row["label"])
            predicted.append(classifier.classify(row["text"]).label or "none")
    return scores(truth, predicted)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--model", default=load_config()["TRIAGE_MODEL_PATH"])
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.file, args.model)
    except (OSError, ValueError, ModelError) as error:
        click.echo(f"evaluate: {error}", err=True)
        return 2
    click.echo(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
