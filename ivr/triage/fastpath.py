"""Scoring one transcript without scikit-learn's per-call overhead.

For a single short text, `Pipeline.predict_proba` spends most of its ~2 ms in input validation and
dispatch, not arithmetic. This module reads the fitted parts of the one pipeline shape training.train
builds (TF-IDF word/char vectorizers [+ cue features] -> sigmoid-calibrated Naive Bayes) and does the same
arithmetic directly. `compile_pipeline` returns None for any other shape, and the Classifier checks the
fast scores against scikit-learn's own on probe texts before using them.
"""
from collections import Counter

import numpy as np
from scipy.special import expit, logsumexp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline

from ivr.triage.cues import CueFeatures


class FastPipeline:
    """predict_proba for a list of texts, numerically the same as the fitted pipeline's."""

    def __init__(self, parts, nb, calibrators, prior):
        self.parts, self.nb_log_prob, self.calibrators, self.prior = parts, nb, calibrators, prior

    def predict_proba(self, texts):
        return np.vstack([self._one(text) for text in texts])

    def _one(self, text):
        columns, values, offset = [], [], 0
        for kind, part, width in self.parts:
            idx, val = (_tfidf(part, text) if kind == "tfidf" else _cues(part, text))
            columns.extend(i + offset for i in idx)
            values.extend(val)
            offset += width
        jll = self.nb_log_prob[:, columns] @ np.asarray(values) if columns else np.zeros(len(self.prior))
        jll = jll + self.prior
        nb_proba = np.exp(jll - logsumexp(jll))
        proba = np.array([expit(-(a * p + b)) for (a, b), p in zip(self.calibrators, nb_proba)])
        total = proba.sum()
        proba = proba / total if total else np.full_like(proba, 1 / len(proba))
        proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


def _tfidf(vectorizer, text):
    analyzer, vocabulary, idf = vectorizer
    counts = Counter(i for i in (vocabulary.get(term) for term in analyzer(text)) if i is not None)
    if not counts:
        return [], []
    idx = sorted(counts)
    weights = (1.0 + np.log(np.array([counts[i] for i in idx], dtype=np.float64))) * idf[idx]
    norm = np.sqrt(np.dot(weights, weights))
    return idx, list(weights / norm if norm else weights)


def _cues(transformer, text):
    row = transformer.transform([text]).toarray()[0]
    idx = [i for i, value in enumerate(row) if value]
    return idx, [row[i] for i in idx]


def compile_pipeline(pipeline):
    """A FastPipeline for the shape training.train builds, else None."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        return None
    union, calibrated = pipeline.steps[0][1], pipeline.steps[1][1]
    if not isinstance(union, FeatureUnion) or not isinstance(calibrated, CalibratedClassifierCV):
        return None
    if calibrated.method != "sigmoid" or len(calibrated.calibrated_classifiers_) != 1:
        return None
    parts = []
    for _, transformer in union.transformer_list:
        if isinstance(transformer, TfidfVectorizer) and transformer.sublinear_tf and transformer.norm == "l2" \
                and transformer.use_idf and transformer.binary is False:
            parts.append(("tfidf", (transformer.build_analyzer(), transformer.vocabulary_, transformer.idf_),
                          len(transformer.vocabulary_)))
        elif isinstance(transformer, CueFeatures):
            parts.append(("cues", transformer, len(transformer.get_feature_names_out())))
        else:
            return None
    inner = calibrated.calibrated_classifiers_[0]
    nb = inner.estimator
    if type(nb) not in (MultinomialNB, ComplementNB) or list(nb.classes_) != list(pipeline.classes_):
        return None
    prior = nb.class_log_prior_ if isinstance(nb, MultinomialNB) else np.zeros(len(nb.classes_))
    calibrators = [(c.a_, c.b_) for c in inner.calibrators]
    return FastPipeline(parts, nb.feature_log_prob_, calibrators, prior)
