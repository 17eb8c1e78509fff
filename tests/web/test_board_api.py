"""The board's server side: a call is in progress once answered, claims, the board's pinned calls, the alerts
summary, and the settings page and API (who may, validation, audit, applied)."""
from datetime import timedelta

import pytest

from ivr.screening import blank_policy
from ivr.store import audit, board, calls, floods, holds, settings
from ivr.store.models import utcnow
from ivr.triage.classifier import Classification

from helpers import csrf

LINE = "+15005550001"


def test_a_call_is_in_progress_once_its_stream_starts_not_ringing_all_along(db):
    calls.open_call(db, "CAanswered", "+919812345678", LINE)
    assert calls.get_call(db, "CAanswered").status == "ringing"
    assert calls.claim_stream(db, "CAanswered")
    assert calls.get_call(db, "CAanswered").status == "in-progress"
    calls.close_call(db, "CAanswered", "completed", 12)
    assert calls.get_call(db, "CAanswered").status == "completed"


def test_a_keypad_step_marks_an_answered_call_in_progress_even_without_a_stream(db):
    calls.open_call(db, "CAnostream", "+919812345678", LINE)
    calls.record_attempt(db, "CAnostream", "1")
    assert calls.get_call(db, "CAnostream").status == "in-progress"


def test_the_board_pins_calls_not_ended_emergencies_first_and_leaves_out_rejected_ones(db):
    calls.open_call(db, "CAold", "+919800000001", LINE, created_at=utcnow() - timedelta(minutes=3))
    calls.add_final(db, "CAold", "there is a fire", 1.0, Classification("emergency", 0.95, {"emergency": 0.95}))
    calls.open_call(db, "CAnew", "+919800000002", LINE)
    calls.open_call(db, "CAreject", "+919800000003", LINE)
    calls.claim_decision(db, "CAreject", "reject")
    calls.open_call(db, "CAended", "+919800000004", LINE)
    calls.close_call(db, "CAended", "completed", 5)
    calls.open_call(db, "CAstale", "+919800000005", LINE, created_at=utcnow() - timedelta(hours=board.LIVE_HOURS + 1))
    assert [call.sid for call in board.in_progress(db)] == ["CAnew", "CAold"]
    assert [board.is_emergency(call) for call in board.in_progress(db)] == [False, True]


def test_a_claim_is_audited_and_refused_to_a_second_operator(db):
    calls.open_call(db, "CAc", "+919800000001", LINE)
    call, error = board.claim(db, "CAc", "op asha", None)
    assert error is None and call.claimed_by == "op asha"
    assert board.claim(db, "CAc", "op ravi", None)[1] == "op asha is already taking this call"
    assert board.release(db, "CAc", "op ravi", None)[1] == "op asha is taking this call, not you"
    assert board.release(db, "CAc", "op asha", None)[1] is None
    assert board.claim(db, "CAc", "op ravi", None)[1] is None
    assert [entry.action for entry in audit.recent(db, target="CAc")] == ["call.claim", "call.release", "call.claim"]
    assert board.claim(db, "CAnone", "op ravi", None) == (None, "no call CAnone")


def test_claim_through_the_page_names_who_holds_it(app, db, operator_client, admin_client):
    calls.open_call(db, "CAp", "+919800000001", LINE)
    token = csrf(operator_client)
    assert operator_client.post("/calls/CAp/claim", data={"csrf_token": token}).status_code == 302
    refused = admin_client.post("/calls/CAp/claim", data={"csrf_token": csrf(admin_client)}, follow_redirects=True)
    assert "Not taken: op asha is already taking this call." in refused.text
    assert operator_client.post("/calls/CAp/claim", data={}).status_code == 400          # no CSRF token


def test_the_alerts_summary_counts_new_and_open_alerts(db, operator_client):
    assert operator_client.get("/alerts/summary").json["new"] == 0
    alert = floods.raise_alert(db, LINE, 9, 5.0, utcnow(), 300)
    floods.raise_alert(db, "+15005550002", 9, 5.0, utcnow(), 300)
    floods.move(db, alert.id, "investigating", "", "op asha")
    summary = operator_client.get("/alerts/summary").json
    assert (summary["open"], summary["new"], summary["newest"]) == (2, 1, alert.id + 1)


def test_settings_are_for_admins_only(operator_client, admin_client):
    assert operator_client.get("/settings").status_code == 403
    assert operator_client.post("/settings", data={"csrf_token": csrf(operator_client),
                                                   "SCREEN_BLANK_WATCH": "2"}).status_code == 403
    page = admin_client.get("/settings")
    assert page.status_code == 200 and 'name="SCREEN_BLANK_WATCH"' in page.text


def test_an_admin_changes_a_setting_on_the_page_audited(db, admin_client):
    response = admin_client.post("/settings", data={"csrf_token": csrf(admin_client), "SCREEN_BLANK_WATCH": "2"},
                                 follow_redirects=True)
    assert "Saved: SCREEN_BLANK_WATCH" in response.text
    assert settings.overrides(db, 0)["SCREEN_BLANK_WATCH"] == 2
    entry = audit.recent(db, target="SCREEN_BLANK_WATCH")[0]
    assert (entry.actor, entry.action, entry.after) == ("op ravi", "settings.put", {"value": 2.0})
    bad = admin_client.post("/settings", data={"csrf_token": csrf(admin_client), "SCREEN_BLANK_BLOCK": "ten"},
                            follow_redirects=True)
    assert "Not saved: SCREEN_BLANK_BLOCK must be a number from 1 to 1000, not &#39;ten&#39;." in bad.text
    admin_client.post("/settings", data={"csrf_token": csrf(admin_client), "reset": "SCREEN_BLANK_WATCH"})
    assert "SCREEN_BLANK_WATCH" not in settings.overrides(db, 0)


def test_the_settings_api_needs_the_key(app, client):
    app.config["IVR_API_KEY"] = "k" * 40
    assert client.get("/api/settings").status_code == 401
    assert client.put("/api/settings", json={"SCREEN_BLANK_WATCH": 2}).status_code == 401


def test_the_settings_api_reads_and_changes_thresholds(api, app, db):
    before = api("GET", "/api/settings").json["settings"]
    assert before["SCREEN_FLOOD_CALLERS"] == {**before["SCREEN_FLOOD_CALLERS"], "value": 5, "source": "environment",
                                              "min": 2, "max": 10_000, "type": "int"}
    changed = api("PUT", "/api/settings", json={"SCREEN_FLOOD_CALLERS": 8, "SCREEN_BLANK_WATCH": 2})
    assert changed.status_code == 200
    assert changed.json["settings"]["SCREEN_FLOOD_CALLERS"]["value"] == 8
    assert changed.json["settings"]["SCREEN_FLOOD_CALLERS"]["updated_by"] == "api"
    number = "+919812399999"
    for sid in ("CAb1", "CAb2"):         # applied: the second blank call of the day puts the number on watch
        calls.open_call(db, sid, number, LINE)
        blank_policy.after_blank(db, sid, number, app.config)
    assert holds.active(db, number, "watch", utcnow()) is not None
    assert api("PUT", "/api/settings", json={"SCREEN_FLOOD_CALLERS": None}).json["settings"][
        "SCREEN_FLOOD_CALLERS"]["source"] == "environment"


@pytest.mark.parametrize("body, message", [
    ({"SCREEN_FLOOD_CALLERS": 1}, "SCREEN_FLOOD_CALLERS must be a whole number from 2 to 10000, not 1"),
    ({"SCREEN_FLOOD_CALLERS": 2.5}, "SCREEN_FLOOD_CALLERS must be a whole number from 2 to 10000, not 2.5"),
    ({"SCREEN_FLOOD_FACTOR": "lots"}, "SCREEN_FLOOD_FACTOR must be a number from 1 to 100, not 'lots'"),
    ({"SCREEN_FLOOD_FACTOR": True}, "SCREEN_FLOOD_FACTOR must be a number from 1 to 100"),
    ({"SECRET_KEY": "x"}, "'SECRET_KEY' cannot be changed at run time"),
    ({}, "send a JSON object of settings"),
    ([1, 2], "send a JSON object of settings"),
])
def test_bad_settings_get_a_clear_400_and_change_nothing(api, db, body, message):
    response = api("PUT", "/api/settings", json=body)
    assert response.status_code == 400 and message in response.json["error"]
    assert settings.overrides(db, 0) == {}


def test_a_bad_value_among_good_ones_changes_nothing(api, db):
    response = api("PUT", "/api/settings", json={"SCREEN_BLANK_WATCH": 3, "SCREEN_BLANK_BLOCK": 0})
    assert response.status_code == 400 and settings.overrides(db, 0) == {}


def test_the_calls_list_filters_by_line(db, operator_client):
    calls.open_call(db, "CAl1", "+919800000001", LINE)
    calls.open_call(db, "CAl2", "+919800000002", "+15005550002")
    for sid in ("CAl1", "CAl2"):
        calls.close_call(db, sid, "completed", 5)
    assert 'id="call-CAl2"' in operator_client.get("/?line=%2B15005550002").text
    assert 'id="call-CAl1"' not in operator_client.get("/?line=%2B15005550002").text
    assert operator_client.get("/?line=<b>").status_code == 400


def test_pages_show_times_in_the_control_rooms_zone_and_durations_as_minutes(db, admin_client):
    from datetime import datetime, timezone
    arrived = datetime(2026, 11, 30, 20, 0, 5, tzinfo=timezone.utc)
    calls.open_call(db, "CAtz", "+919800000001", LINE, created_at=arrived)
    calls.close_call(db, "CAtz", "completed", 125)
    page = admin_client.get("/").text
    assert "Time (IST)" in page and ">01:30:05</time>" in page and "01 Dec" in page and ">02:05</span>" in page
    audit_page = admin_client.get("/audit").text
    assert "When (IST)" in audit_page and "(UTC)" not in audit_page


def test_a_busy_board_still_lists_the_finished_calls_each_call_once(app, db, operator_client):
    app.config["WEB_PAGE_SIZE"] = 3
    calls.open_call(db, "CAdone", "+919800000009", LINE, created_at=utcnow() - timedelta(minutes=5))
    calls.close_call(db, "CAdone", "completed", 30)
    for i in range(4):                                   # more calls in progress than a page holds
        calls.open_call(db, f"CAlive{i}", f"+91980000000{i}", LINE)
    page = operator_page_sections(operator_client.get("/").text)
    assert page["live"] == ["CAlive3", "CAlive2", "CAlive1", "CAlive0"] and page["finished"] == ["CAdone"]
    assert 'id="call-CAdone"' in operator_client.get("/?flag=&class=").text


def operator_page_sections(html):
    import re
    live, finished = html.split('id="calls"')
    return {"live": re.findall(r'<tr id="call-(CA\w+)"', live), "finished": re.findall(r'<tr id="call-(CA\w+)"', finished)}


def test_the_hourly_chart_has_labelled_axes_gridlines_and_local_hours(db, operator_client):
    from web.charts import ticks
    hour = utcnow().replace(minute=0, second=0, microsecond=0)      # all seven in one hour, whatever the clock says
    for i in range(7):
        calls.open_call(db, f"CAh{i}", "+919800000001", LINE, created_at=hour + timedelta(seconds=i))
    fragment = operator_client.get("/stats/charts").text            # what the page redraws every minute
    assert ">Calls</text>" in fragment and "Hour starting (IST)</text>" in fragment
    assert fragment.count('class="grid"') == len(ticks(7)) == 5       # 0, 2, 4, 6, 8
    assert 'id="charts" data-src="/stats/charts"' in operator_client.get("/stats").text
    assert ticks(1) == [0, 1] and ticks(23) == [0, 5, 10, 15, 20, 25] and ticks(0) == [0, 1]
