"""Caller cues as classifier features: distress in a genuine caller, pressure tactics in a scam script.

A scikit-learn transformer, so it can sit in the pickled pipeline (this module must stay importable by the
app). Each cue family is a count of phrase matches, scaled to [0, 1]; Naive Bayes takes them like words.
"""
import re

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin

CUES = {
    "distress": ("help", "please help", "save", "hurry", "fast", "quick", "right now", "emergency", "dying",
                 "scared", "screaming", "crying", "urgent", "immediately", "come fast", "send police"),
    "danger": ("gun", "knife", "fire", "blood", "bleeding", "attack", "beating", "kill", "shot", "stabbed",
               "accident", "unconscious", "not breathing", "kidnap", "rape", "bomb", "smoke", "weapon"),
    "past": ("yesterday", "last week", "last night", "last month", "ago", "already", "was stolen",
             "happened on", "earlier today"),
    "question": ("how do i", "how can i", "what is", "where is", "when will", "status", "procedure",
                 "can you tell", "i want to know", "which", "timings"),
    "money": ("prize", "won", "lottery", "cash", "reward", "refund", "loan", "credit card", "offer",
              "discount", "free", "bitcoin", "investment", "payment", "fee"),
    "pressure": ("press one", "press nine", "press two", "act now", "limited time", "expire", "final notice",
                 "within two hours", "will be blocked", "deactivated", "suspended", "last chance"),
    "personal_details": ("otp", "kyc", "aadhaar", "pan card", "account number", "pin", "password",
                         "date of birth", "verify your", "card details"),
    "impersonation": ("this is an automated", "calling from", "customs", "cbi", "department", "officer speaking",
                      "your bank", "telecom", "trai", "courier", "parcel"),
}
_PATTERNS = {name: re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b")
             for name, phrases in CUES.items()}
NAMES = tuple(CUES)


def cue_counts(text):
    """How many phrases of each cue family the text contains."""
    text = (text or "").lower()
    return {name: len(pattern.findall(text)) for name, pattern in _PATTERNS.items()}


class CueFeatures(BaseEstimator, TransformerMixin):
    """Transform texts into cue-family features (non-negative, as Naive Bayes needs)."""

    def __init__(self, cap=3):
        self.cap = cap

    def fit(self, texts, labels=None):
        return self

    def transform(self, texts):
        rows = [[min(count, self.cap) / self.cap for count in cue_counts(text).values()] for text in texts]
        return csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(NAMES)))

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"cue_{name}" for name in NAMES], dtype=object)
