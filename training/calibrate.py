"""Calibration for training.train: fit the calibrator on out-of-fold predictions, and measure it.

The calibrator learns from telephone transcripts of training voices only, through predictions of models that
never saw the sentence (grouped folds: a sentence's clean text and all its transcripts fall in one fold).
The method (temperature, sigmoid, isotonic) with the lowest grouped cross-validated log loss wins.
"""
import numpy as np
from sklearn.model_selection import GroupKFold

from ivr.triage.calibration import CALIBRATORS, log_loss, reliability


def choose(p, y, groups, seed):
    """(fitted calibrator, table of cross-validated log loss per method) for probabilities P, labels Y
    (column indices) and GROUPS (source sentences)."""
    folds = list(GroupKFold(n_splits=5, shuffle=True, random_state=seed).split(p, y, groups))
    table = []
    for method, kind in CALIBRATORS.items():
        held = np.zeros_like(p)
        for fit, test in folds:
            held[test] = kind().fit(p[fit], y[fit]).transform(p[test])
        table.append({"method": method, "cv_log_loss": round(log_loss(held, y), 4),
                      "cv_ece": reliability(*shown(held, y, None))["ece"]})
    table.append({"method": "none", "cv_log_loss": round(log_loss(p, y), 4), "cv_ece": reliability(*shown(p, y, None))["ece"]})
    best = min((row for row in table if row["method"] != "none"), key=lambda row: row["cv_log_loss"])
    return CALIBRATORS[best["method"]]().fit(p, y), table


def shown(p, y, emergency_column, threshold=None):
    """The number operators see (the probability of the label the app assigns) and whether that label is right.
    With a threshold, the label is emergency at or above it (the recall cut), else the most probable class."""
    label = p.argmax(axis=1)
    if threshold is not None:
        label = np.where(p[:, emergency_column] >= threshold, emergency_column, label)
    return p[np.arange(len(label)), label], label == y


def report(model, texts, labels, threshold):
    """Calibration of MODEL on (texts, labels): ECE and reliability table of the shown number, and ECE of
    P(emergency) (what early routing compares with its threshold)."""
    classes = list(model.classes_)
    column = classes.index("emergency")
    y = np.array([classes.index(label) for label in labels])
    p = model.predict_proba(texts)
    measured = reliability(*shown(p, y, column, threshold))
    emergency = reliability(p[:, column], y == column)
    return {"n": len(y), "ece": measured["ece"], "emergency_ece": emergency["ece"],
            "log_loss": round(log_loss(p, y), 4), "reliability": measured["table"]}


def early_route(model, texts, labels, threshold):
    """What an early-route cut does on (texts, labels): the share of emergencies routed early and the share of
    other calls routed early by mistake."""
    column = list(model.classes_).index("emergency")
    p = model.predict_proba(texts)[:, column]
    truth = np.array([label == "emergency" for label in labels])
    routed = p >= threshold
    return {"threshold": threshold, "n": len(labels),
            "emergency_recall": round(float(routed[truth].mean()) if truth.any() else 0.0, 4),
            "false_early_routes": round(float(routed[~truth].mean()) if (~truth).any() else 0.0, 4)}


def table_lines(name, before, after):
    """Human-readable reliability tables, before and after, for the training output."""
    lines = [f"calibration on {name} (n={after['n']}): ECE {before['ece']} -> {after['ece']}, "
             f"P(emergency) ECE {before['emergency_ece']} -> {after['emergency_ece']}",
             "  bin       before: n  conf   acc | after: n  conf   acc"]
    old = {row["bin"]: row for row in before["reliability"]}
    new = {row["bin"]: row for row in after["reliability"]}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        left = f"{a['n']:5d} {a['confidence']:.2f} {a['accuracy']:.2f}" if a else " " * 15
        right = f"{b['n']:5d} {b['confidence']:.2f} {b['accuracy']:.2f}" if b else ""
        lines.append(f"  {key}  {left}   | {right}")
    return lines
