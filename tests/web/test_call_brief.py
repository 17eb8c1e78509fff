"""A call's page as an operator's brief: timed turns, rated entities, tactics and threat, notes, who handled it,
the class form that starts empty, the JSON export and the printable record; the API and live events too."""
import html
import json
import re
from datetime import timedelta

import pytest

from ivr.store import actions, audit, calls, notes
from ivr.store.models import utcnow

from helpers import csrf

GARBLED = "higher ed brown main 3"


def a_call(db, sid="CAb", words=("there is a fight near " + GARBLED, "he says he will kill me please help"),
           seconds_ago=90):
    calls.open_call(db, sid, "+919812345678", "+15005550001", created_at=utcnow() - timedelta(seconds=seconds_ago))
    for said in words:
        calls.add_final(db, sid, said, 2.0)
    return calls.get_call(db, sid)


def note(client, sid, body, token=None):
    return client.post(f"/calls/{sid}/notes", data={"note": body, "csrf_token": csrf(client) if token is None else token})


def test_the_page_shows_timed_turns_and_the_partial(operator_client, db):
    a_call(db)
    calls.set_partial(db, "CAb", "and he is still outside", 3.0)
    page = operator_client.get("/calls/CAb").text
    turns = re.findall(r'<span class="at">(\d+):(\d\d)</span> <span class="said">([^<]*)</span>', page)
    assert [said for _, _, said in turns] == ["there is a fight near " + GARBLED, "he says he will kill me please help"]
    assert all(int(m) * 60 + int(s) >= 90 for m, s, _ in turns)
    assert '<em class="partial">and he is still outside</em>' in page


def test_garbled_places_are_marked_uncertain_not_shown_as_facts(operator_client, db):
    a_call(db)
    page = operator_client.get("/calls/CAb").text
    item = re.search(r'<li class="entity([^"]*)"[^>]*><span class="e-text">' + re.escape(GARBLED), page)
    assert item and item.group(1) == " uncertain"
    assert "uncertain, 5% sure" in page and "likely misheard: higher, ed, brown" in page


def test_tactics_and_threat_level_name_the_words(operator_client, db):
    a_call(db)
    page = html.unescape(operator_client.get("/calls/CAb").text)
    assert 'Threat level: <b class="t-level">high</b>' in page and "(threats 3 + fear 2 = 5)" in page
    assert "<q>kill me</q>" in page and "<q>please help</q>" in page


def test_the_api_and_live_events_carry_rated_entities_turns_and_tactics(app, api, operator_client, db):
    a_call(db)
    body = api("GET", "/api/calls/CAb").get_json()
    [place] = body["entities"]["places"]
    assert (place["text"], place["uncertain"], place["confidence"]) == (GARBLED, True, 0.05)
    assert [turn["text"] for turn in body["turns"]][0].startswith("there is a fight")
    assert {t["tactic"] for t in body["tactics"]} == {"threats", "fear"}
    assert body["threat"]["level"] == "high" and body["notes"] == [] and body["handled_by"] == []
    app.config["WEB_EVENTS_MAX_SECONDS"] = 1
    stream = operator_client.get("/events").get_data(as_text=True)
    event = json.loads(re.search(r"event: call\ndata: (.*)\n", stream).group(1))
    assert event["entities"]["places"][0]["uncertain"] is True
    assert event["threat"]["level"] == "high" and len(event["turns"]) == 2


def test_notes_are_stored_audited_and_shown_with_author_and_local_time(operator_client, db):
    a_call(db)
    response = note(operator_client, "CAb", "  Caller's brother called back: address is <b>plot 7</b>.\nPCR 12 sent.  ")
    assert response.status_code == 303 and response.headers["Location"].endswith("/calls/CAb#notes")
    [stored] = notes.notes_for(db, "CAb")
    assert (stored.author, stored.body) == ("op asha", "Caller's brother called back: address is <b>plot 7</b>.\nPCR 12 sent.")
    [logged] = [e for e in audit.recent(db, target="CAb") if e.action == "call.note"]
    assert logged.actor == "op asha" and logged.after == {"note": stored.body}
    page = operator_client.get("/calls/CAb").text
    assert "address is &lt;b&gt;plot 7&lt;/b&gt;" in page
    ist = (stored.created_at if stored.created_at.tzinfo else stored.created_at.replace(tzinfo=utcnow().tzinfo)) \
        + timedelta(hours=5, minutes=30)
    assert '<b>op asha</b> · <time datetime' in page and ist.strftime("%H:%M:%S IST") in page
    assert "<li><b>op asha</b>: wrote a note</li>" in page


@pytest.mark.parametrize("body, status, message", [
    ("", 400, "Write the note first"),
    ("   \n ", 400, "Write the note first"),
    ("x" * 2001, 400, "at most 2000 characters (this one has 2001)"),
    ("bell \x07 ring", 400, "control characters"),
    ("nul \x00 byte", 400, "NUL bytes are not allowed"),
])
def test_bad_notes_are_refused_with_one_line_and_the_text_kept(operator_client, db, body, status, message):
    a_call(db)
    response = note(operator_client, "CAb", body)
    assert response.status_code == status and message in html.unescape(response.text)
    assert notes.notes_for(db, "CAb") == []
    if body.strip() and "\x00" not in body:
        assert f">{body[:50]}" in response.text                  # what was typed comes back in the form


def test_notes_need_the_csrf_token_a_session_and_a_known_call(app, operator_client, db):
    a_call(db)
    assert note(operator_client, "CAb", "hello", token="forged").status_code == 400
    assert app.test_client().post("/calls/CAb/notes", data={"note": "hello"}).status_code == 401
    assert note(operator_client, "CAnope", "hello").status_code == 404
    assert notes.notes_for(db, "CAb") == []


def test_a_call_without_a_class_starts_the_dropdown_on_choose(operator_client, db):
    a_call(db, words=())
    page = operator_client.get("/calls/CAb").text
    select = re.search(r'<select name="class" required>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r"<option[^>]*selected[^>]*>([^<]*)<", select) == ["choose…"]
    refused = operator_client.post("/calls/CAb/class", data={"class": "", "csrf_token": csrf(operator_client)})
    assert refused.status_code == 400 and "Choose a class from the list, then save." in refused.text
    assert calls.get_call(db, "CAb").operator_label is None
    actions.label_call(db, "CAb", "inquiry", "op ravi")
    select = re.search(r'<select name="class"[^>]*>(.*?)</select>', operator_client.get("/calls/CAb").text, re.S)
    assert re.findall(r"<option[^>]*selected[^>]*>([^<]*)<", select.group(1)) == ["inquiry"]
    assert "<li><b>op ravi</b>: corrected the class</li>" in operator_client.get("/calls/CAb").text


def test_the_export_is_the_whole_record_as_json_and_is_audited(operator_client, db):
    a_call(db)
    note(operator_client, "CAb", "PCR 12 sent")
    response = operator_client.get("/calls/CAb/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="call-CAb.json"'
    body = response.get_json()
    assert set(body) == {"schema", "exported_at", "exported_by", "call", "turns", "partial_transcript", "entities",
                         "tactics", "threat", "notes", "handled_by", "timeline"}
    assert body["schema"] == "ivr.call-record/1" and body["exported_by"] == "op asha"
    assert body["call"]["sid"] == "CAb" and body["call"]["from"] == "+919812345678"
    assert [n["body"] for n in body["notes"]] == ["PCR 12 sent"] and body["notes"][0]["author"] == "op asha"
    assert body["notes"][0]["at"].endswith("+00:00") and body["notes"][0]["local_time"].endswith("IST")
    assert body["entities"]["places"][0]["uncertain"] is True
    assert body["timeline"][0]["what"] == "ringing: call arrived"
    assert body["handled_by"] == [{"who": "op asha", "did": ["wrote a note"]}]
    assert [e.action for e in audit.recent(db, target="CAb")].count("call.export") == 1


def test_the_export_and_print_page_are_for_signed_in_operators_only(app, api, db):
    a_call(db)
    anonymous = app.test_client()
    for path in ("/calls/CAb/export.json", "/calls/CAb/print"):
        assert anonymous.get(path).status_code == 302
        assert api("GET", path).status_code == 302          # the API key opens the API, not operators' pages


def test_the_print_page_has_the_record_and_no_controls(operator_client, db):
    a_call(db)
    note(operator_client, "CAb", "handed over to PCR 12")
    page = operator_client.get("/calls/CAb/print")
    assert page.status_code == 200
    text = page.text
    assert "call.css" in text and "<form" not in text and "<nav" not in text
    for part in ("Call record: +919812345678", "he says he will kill me please help", GARBLED, "uncertain",
                 "handed over to PCR 12", "op asha", "ringing: call arrived", "Printed"):
        assert part in text
    assert operator_client.get("/calls/CAnope/print").status_code == 404
