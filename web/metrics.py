"""GET /metrics in Prometheus text format.

Call counts come from the database at scrape time, so they are exact whichever gunicorn process answers.
Per-process figures (webhook latency, open media streams, transcription lag from ivr/telemetry.py, HTTP
errors) use prometheus-client; with PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets a fresh one) they are
summed across processes. Names follow Prometheus's conventions: counters end in `_total`, durations in
`_duration_seconds`, gauges have no `_total`; `ivr_build_info` (value 1) carries what this process runs.
"""
import os
import time

import sklearn
from flask import Response, current_app, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from ivr.store import calllist
from ivr.vocabulary import ENDINGS
from web import guard

WEBHOOK_DURATION = Histogram("ivr_webhook_duration_seconds", "Time to answer a Twilio webhook", ["endpoint"],
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
ACTIVE_STREAMS = Gauge("ivr_active_media_streams", "Media Streams WebSockets open now", multiprocess_mode="livesum")
LIVE_EVENT_LAG = Histogram("ivr_live_event_lag_seconds",
                           "From a call change (a partial transcript, a decision) being stored to its event being sent",
                           buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5))
HTTP_ERRORS = Counter("ivr_http_errors", "Responses with a 5xx status or an unhandled exception", ["endpoint"])


class DatabaseCollector:
    """Calls by class and route, screening actions and calls with faults, read from the shared database."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        calls = CounterMetricFamily("ivr_calls", "Calls by class and route", labels=["class", "route"])
        actions = CounterMetricFamily("ivr_screening_actions", "Calls ended by screening", labels=["action"])
        by_action = {}
        for label, route, count in calllist.counts_by_class_route(self.db):
            calls.add_metric([label or "none", route or "undecided"], count)
            if route in ENDINGS:
                by_action[route] = by_action.get(route, 0) + count
        for action, count in sorted(by_action.items()):
            actions.add_metric([action], count)
        faults = GaugeMetricFamily("ivr_calls_with_faults", "Calls that hit an internal fault (routed to a human)",
                                   value=calllist.count_with_faults(self.db))
        return [calls, actions, faults]


class BuildCollector:
    """ivr_build_info: the classifier version, speech engine and scikit-learn this app runs with."""

    def __init__(self, app):
        self.labels = {"classifier_version": str(app.extensions["ivr.classifier"].version),
                       "speech_engine": app.extensions["ivr.speech"].name,
                       "sklearn_version": sklearn.__version__}

    def collect(self):
        return [InfoMetricFamily("ivr_build", "What this app runs with", value=self.labels)]


def _started():
    g.metrics_started = time.perf_counter()
    if request.endpoint == "stream.media":
        ACTIVE_STREAMS.inc()
        g.metrics_stream = True


def _finished(response):
    if request.blueprint == "voice" and "metrics_started" in g:
        WEBHOOK_DURATION.labels(request.endpoint or "unknown").observe(time.perf_counter() - g.metrics_started)
    if response.status_code >= 500:
        HTTP_ERRORS.labels(request.endpoint or "unknown").inc()
    return response


def _torn_down(error):
    if g.pop("metrics_stream", False):
        ACTIVE_STREAMS.dec()
    if error is not None:
        HTTP_ERRORS.labels(request.endpoint or "unknown").inc()


def metrics():
    """Prometheus text format; needs the API key like the JSON API (X-API-Key or a Bearer token)."""
    denied = guard.check_api_key()
    if denied is not None:
        return denied
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(current_app.extensions["ivr.db"]))
    registry.register(BuildCollector(current_app))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(registry) + generate_latest(REGISTRY)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def init_app(app):
    app.before_request(_started)
    app.after_request(_finished)
    app.teardown_request(_torn_down)
    app.add_url_rule("/metrics", "metrics", metrics)
