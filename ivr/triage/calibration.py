"""Probabilities that mean what they say: calibrators fitted on held-out predictions, and how to measure them.

The classifier's Naive Bayes scores are far too sure of themselves on garbled 8 kHz transcripts. A calibrator
maps them to probabilities that match how often the class is right (training.train fits one on cross-validated
predictions for telephone transcripts); `CalibratedModel` is what the app unpickles and asks for probabilities.
"""
import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

EPS = 1e-6


def _logit(p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _normalise(p):
    p = np.clip(p, 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    return np.where(total > 0, p / np.where(total > 0, total, 1), 1.0 / p.shape[1])


class Temperature:
    """One temperature for all classes: softmax(log p / T). Keeps the ranking of the classes."""
    method = "temperature"

    def fit(self, p, y):
        logp = np.log(np.clip(p, EPS, 1))

        def nll(log_t):
            return log_loss(_softmax(logp / np.exp(log_t)), y)

        self.temperature_ = float(np.exp(minimize_scalar(nll, bounds=(-3, 5), method="bounded").x))
        return self

    def transform(self, p):
        return _softmax(np.log(np.clip(p, EPS, 1)) / self.temperature_)


class Sigmoid:
    """Platt scaling per class (one against the rest), then normalised to sum to one."""
    method = "sigmoid"

    def fit(self, p, y):
        self.models_ = [LogisticRegression(C=100.0).fit(_logit(p[:, [k]]), y == k) for k in range(p.shape[1])]
        return self

    def transform(self, p):
        return _normalise(np.column_stack([m.predict_proba(_logit(p[:, [k]]))[:, 1]
                                           for k, m in enumerate(self.models_)]))


class Isotonic:
    """A monotone step function per class (one against the rest), then normalised to sum to one."""
    method = "isotonic"

    def fit(self, p, y):
        self.models_ = [IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[:, k], y == k)
                        for k in range(p.shape[1])]
        return self

    def transform(self, p):
        return _normalise(np.column_stack([m.predict(p[:, k]) for k, m in enumerate(self.models_)]))


CALIBRATORS = {kind.method: kind for kind in (Temperature, Sigmoid, Isotonic)}


class CalibratedModel:
    """A fitted text pipeline whose probabilities go through a fitted calibrator."""

    def __init__(self, base, calibrator):
        self.base, self.calibrator = base, calibrator
        self.classes_ = base.classes_

    def predict_proba(self, texts):
        return self.calibrator.transform(self.base.predict_proba(texts))


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_loss(p, y):
    """Mean negative log-likelihood of the true classes (y: column indices)."""
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], EPS, 1))))


def reliability(confidence, correct, bins=10):
    """Rows of (bin low, bin high, n, mean confidence, share correct) over equal-width bins, and the expected
    calibration error: the n-weighted mean gap between confidence and accuracy."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows, gap = [], 0.0
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        if not n:
            continue
        mean, share = float(confidence[inside].mean()), float(correct[inside].mean())
        gap += n * abs(mean - share)
        rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": n, "confidence": round(mean, 4),
                     "accuracy": round(share, 4)})
    return {"ece": round(gap / max(len(confidence), 1), 4), "table": rows}
