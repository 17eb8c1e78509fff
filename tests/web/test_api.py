"""The JSON API (X-API-Key) and /metrics."""
import pytest
import sklearn
from prometheus_client.parser import text_string_to_metric_families

from ivr.store import actions, audit, calls

from conftest import API_KEY, call_params, listed



@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "k" * 39}, {"X-API-Key": API_KEY + "x"},
                                     {"Authorization": "Basic " + API_KEY}])
def test_api_refuses_missing_or_wrong_keys(app, headers):
    app.config["IVR_API_KEY"] = API_KEY
    response = app.test_client().get("/api/calls", headers=headers)
    assert response.status_code == 401 and response.json["error"].startswith("a valid X-API-Key")


def test_no_configured_key_means_no_api(app):
    assert app.config["IVR_API_KEY"] == ""
    assert app.test_client().get("/api/calls", headers={"X-API-Key": ""}).status_code == 401


def test_calls_list_and_detail(api, db):
    calls.open_call(db, "CA1", "+919800000001", "+1", reasons=["caller-id: withheld"],
                   flags={"caller-id": "caller-id: withheld"})
    calls.open_call(db, "CA2", "+919800000002", "+1")
    calls.add_final(db, "CA2", "<script>x</script>", 1.0)
    body = api("GET", "/api/calls?per_page=1").json
    assert [c["sid"] for c in body["calls"]] == ["CA2"] and body["next_page"] == 2
    assert body["calls"][0]["transcript"] == "<script>x</script>"      # JSON carries the text as it is
    assert api("GET", "/api/calls?page=2&per_page=1").json["next_page"] is None
    one = api("GET", "/api/calls/CA1").json
    assert one["flags"] == [{"flag": "caller-id", "reason": "caller-id: withheld"}] and one["from"] == "+919800000001"
    assert api("GET", "/api/calls/CAnone").status_code == 404


@pytest.mark.parametrize("query", ["page=0", "per_page=201", "class=x", "from=yesterday", "q=abc"])
def test_calls_list_refuses_absurd_filters(api, query):
    response = api("GET", f"/api/calls?{query}")
    assert response.status_code == 400 and response.json["error"]


def test_spam_add_list_remove(api, db, twilio_post):
    created = api("POST", "/api/spam", json={"number": "+1 (500) 555-0006", "reason": "robocaller"})
    assert created.status_code == 201 and created.json["number"] == "+15005550006"
    assert [e["number"] for e in api("GET", "/api/spam").json["spam"]] == ["+15005550006"]
    assert "Reject" in twilio_post("/voice", call_params(From="+15005550006")).text
    assert api("POST", "/api/spam", json={"number": "nope", "reason": "x"}).status_code == 400
    assert api("POST", "/api/spam", json={"number": "+15005550007"}).status_code == 400
    assert api("DELETE", "/api/spam?number=%2B15005550006").json == {"removed": "+15005550006"}
    assert api("DELETE", "/api/spam", json={"number": "+15005550006"}).status_code == 404
    assert listed(db, "+15005550006") is None
    assert [(e.actor, e.action) for e in audit.recent(db)] == [("api", "spam.remove"), ("api", "spam.add")]


def test_stats(api, db):
    calls.open_call(db, "CA1", "+919800000001", "+1")
    calls.claim_decision(db, "CA1", "blank")
    body = api("GET", "/api/stats").json
    assert (body["total"], body["blank"], body["blank_share"]) == (1, 1, 1.0)
    assert len(body["hours"]) == 24 and body["hours"][-1]["unclassified"] == 1


def test_metrics_need_the_key_and_count_calls_webhooks_and_actions(app, api, db, twilio_post):
    assert app.test_client().get("/metrics").status_code == 401
    actions.add_spam(db, "+15005550006", "robocaller", "test")
    twilio_post("/voice", call_params(From="+15005550006"))
    twilio_post("/voice", call_params(From="+919812345678"))
    text = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).text
    assert 'ivr_calls_total{class="none",route="reject"} 1.0' in text
    assert 'ivr_calls_total{class="none",route="undecided"} 1.0' in text
    assert 'ivr_screening_actions_total{action="reject"} 1.0' in text
    assert "ivr_calls_with_faults 0.0" in text
    assert 'ivr_webhook_duration_seconds_count{endpoint="voice.incoming"}' in text
    assert "ivr_active_media_streams" in text and "ivr_live_event_lag_seconds_bucket" in text
    assert "ivr_transcription_lag_seconds_bucket" in text
    assert api("GET", "/metrics").status_code == 200


def test_metric_names_follow_prometheus_conventions(app, api):
    text = api("GET", "/metrics").text
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE ivr_"))
    assert types["ivr_webhook_duration_seconds"] == "histogram" and "ivr_webhook_seconds" not in types
    assert {name for name, kind in types.items() if kind == "counter"} == {
        "ivr_calls_total", "ivr_screening_actions_total", "ivr_http_errors_total", "ivr_recognition_shed_total"}
    assert [name for name, kind in types.items() if kind != "counter" and name.endswith("_total")] == []
    assert sorted(name for name, kind in types.items() if kind == "histogram") == [
        "ivr_live_event_lag_seconds", "ivr_transcription_lag_seconds", "ivr_webhook_duration_seconds"]
    (build,) = {family.name: family for family in text_string_to_metric_families(text)}["ivr_build_info"].samples
    assert build.name == "ivr_build_info" and build.value == 1
    assert build.labels == {"classifier_version": app.extensions["ivr.classifier"].version,
                            "speech_engine": "pocketsphinx", "sklearn_version": sklearn.__version__}
