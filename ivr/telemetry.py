"""Process-wide measurements recorded where they happen and served by /metrics (web/metrics.py)."""
from prometheus_client import Counter, Histogram

TRANSCRIPTION_LAG = Histogram(
    "ivr_transcription_lag_seconds",
    "How far recognition is behind the caller: seconds since the stream started minus seconds of audio recognised",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10))

RECOGNITION_SHED = Counter(
    "ivr_recognition_shed",
    "Calls whose speech recognition was shed under overload, by stage: answer (no slot free at /voice), start "
    "(none free when the stream started), lag (recognition fell too far behind the caller)", ["stage"])
