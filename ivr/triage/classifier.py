"""The classifier wrapper: loaded once, checked against its model card; `classify(text)` is all the app needs."""
import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import sklearn

from ivr.vocabulary import LABELS

log = logging.getLogger(__name__)

MAX_CLASSIFY_CHARS = 4000
REBUILD = "python -m training.train"
POSSIBLE_BELOW = 0.5    # an emergency label from the recall cut below this is worded "possible emergency"
EARLY_ROUTE_DEFAULT = 0.80    # a card from before calibrated models names no early-route cut


class ModelError(RuntimeError):
    """The classifier artifact is missing or does not match its model card."""


@dataclass(frozen=True)
class Classification:
    label: str | None
    confidence: float
    probabilities: dict = field(default_factory=dict)

    @property
    def wording(self):
        return describe(self.label, self.confidence)

    @property
    def reason(self):
        return f"classifier: {self.wording} {self.confidence:.2f}" if self.label else "classifier: no speech"


def describe(label, confidence):
    """The class as operators read it: an emergency label the recall cut gave to a transcript that is more
    likely something else is a "possible emergency" (the number beside it is its calibrated probability)."""
    if label == "emergency" and confidence is not None and confidence < POSSIBLE_BELOW:
        return "possible emergency"
    return label


NO_CLASS = Classification(None, 0.0, {})


class Classifier:
    """The trained Naive Bayes pipeline; `classify(text)` is all the app needs."""

    def __init__(self, path):
        path = Path(path)
        card_path = path.with_suffix(".json")
        for needed in (path, card_path):
            if not needed.exists():
                raise ModelError(f"classifier file {needed} is missing: build it with `{REBUILD}`")
        self.card = json.loads(card_path.read_text())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != self.card.get("artifact_sha256"):
            raise ModelError(f"classifier file {path} does not match the checksum in {card_path}: rebuild it with `{REBUILD}`")
        built = " ".join(str(self.card.get("sklearn_version") or "an unrecorded version").split())
        if built != sklearn.__version__:
            # a pickle is only read reliably by the scikit-learn that wrote it
            raise ModelError(f"classifier file {path} was built with scikit-learn {built} according to {card_path}, but {sklearn.__version__} is installed: rebuild it with `{REBUILD}`")
        self._pipeline = _unpickle(path, digest)
        if set(self._pipeline.classes_) != set(LABELS) or set(self.card.get("labels", ())) != set(LABELS):
            raise ModelError(f"classifier file {path} has labels {sorted(self._pipeline.classes_)}, expected {sorted(LABELS)}: rebuild it with `{REBUILD}`")
        self.version = self.card.get("version", "unknown")
        # Both chosen on validation data for emergency recall (see training/train.py); 1.01 = plain argmax
        self.emergency_threshold = float(self.card.get("emergency_threshold", 1.01))
        self.early_route_threshold = float(self.card.get("early_route_threshold", EARLY_ROUTE_DEFAULT))

    def classify(self, text):
        """Classify a transcript; empty or wordless text gives NO_CLASS."""
        text = " ".join(str(text or "").split())[:MAX_CLASSIFY_CHARS]
        if not any(ch.isalpha() for ch in text):
            return NO_CLASS
        # The input is always one str, so scikit-learn's per-call parameter and finiteness checks are skipped
        # (about 10% of the call). config_context is thread-local: other threads keep the defaults.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            scores = self._pipeline.predict_proba([text])[0]
        # calibrated probabilities (ivr.triage.calibration): the number operators see and early routing uses
        probabilities = {str(k): round(float(v), 4) for k, v in zip(self._pipeline.classes_, scores)}
        ranked = dict(sorted(probabilities.items(), key=lambda item: -item[1]))
        label = next(iter(ranked))
        if probabilities["emergency"] >= self.emergency_threshold:
            label = "emergency"   # missing an emergency is the worst error: it wins at a recall-tuned cut
        return Classification(label, probabilities[label], ranked)


@functools.lru_cache(maxsize=4)
def _unpickle(path, digest):
    """The pipeline, unpickled once per process and artifact (by checksum): unpickling takes about 0.5 s, and a
    process that builds several apps (the test suite, CLI commands) would pay it each time. It is only read
    after this, so apps in one process can share it."""
    return joblib.load(path)


class Unavailable:
    """Stands in for a classifier that will not load: the line keeps answering, and every call with speech records
    the fault and goes to the operator (a reading can only ever add a route, so nothing is lost without one)."""

    version = "unavailable"
    early_route_threshold = 1.01      # never: without a reading nothing is routed early

    def __init__(self, why):
        self.why = why

    def classify(self, text):
        raise ModelError(self.why)


def init_app(app):
    try:
        classifier = Classifier(app.config["TRIAGE_MODEL_PATH"])
    except ModelError as error:
        log.error("%s; until then calls with speech go to the operator", error)
        classifier = Unavailable(str(error))
    if app.config.get("TRIAGE_EMERGENCY_THRESHOLD") is None:     # unset: the model's own validated cut
        app.config["TRIAGE_EMERGENCY_THRESHOLD"] = classifier.early_route_threshold
    log.info("classifier: version %s, early route at P(emergency) >= %.4f", classifier.version,
             app.config["TRIAGE_EMERGENCY_THRESHOLD"])
    app.extensions["ivr.classifier"] = classifier
