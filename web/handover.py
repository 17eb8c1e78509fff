"""A call's notes, and its record taken out for an FIR or a hand-over: JSON export and a printable page."""
import json
import logging

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from ivr.store import audit, calls, current_db, notes
from ivr.store.models import utcnow
from ivr.vocabulary import LABELS
from web import guard, present, record
from web.guidance import guidance_for

log = logging.getLogger(__name__)
bp = Blueprint("handover", __name__)


def _call(sid):
    call = calls.get_call(current_db(), sid[:64])
    if call is None:
        abort(404, description="No such call: check the link, or find the call on the calls page.")
    return call


def page(sid, note_error=None, note_text="", class_error=None):
    """The call page: the operator's brief, with a refused note (and why) back in its form."""
    call, db = _call(sid), current_db()
    history, written = audit.recent(db, target=call.sid), notes.notes_for(db, call.sid)
    return render_template("call.html", call=call, data=present.call_dict(call), whole=record.build(
        call, history, written), guidance=guidance_for(call), labels=LABELS, local=record.local,
        note_error=note_error, note_text=note_text, class_error=class_error, max_note=notes.MAX_NOTE_CHARS)


def note_problem(body):
    """Why BODY cannot be saved as a note (one line naming the fix), or None."""
    if not body:
        return "Write the note first: it is empty."
    if len(body) > notes.MAX_NOTE_CHARS:
        return f"A note is at most {notes.MAX_NOTE_CHARS} characters (this one has {len(body)}): shorten it."
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in body):
        return "The note has control characters: type or paste it as plain text."
    return None


@bp.post("/calls/<sid>/notes")
def add_note(sid):
    """Add the operator's note to the call (audited); a refused note comes back in the form, with the reason."""
    body = request.form.get("note", "").strip()
    problem = note_problem(body)
    if problem:
        return page(sid, note_error=problem, note_text=body), 400
    if notes.add_note(current_db(), _call(sid).sid, body, guard.actor(), guard.g.operator.id) is None:
        abort(404)
    flash("Note added.")
    return redirect(url_for("web.calls.detail", sid=sid, _anchor="notes"), 303)


def _whole(call):
    db = current_db()
    return record.build(call, audit.recent(db, target=call.sid), notes.notes_for(db, call.sid))


@bp.get("/calls/<sid>/export.json")
def export_json(sid):
    """The whole record as a JSON file (audited: who took it out, when)."""
    call = _call(sid)
    with current_db().session() as session:
        audit.record(session, guard.actor(), "call.export", call.sid, None, {"format": "json"}, guard.g.operator.id)
    body = {"schema": record.SCHEMA, "exported_at": present.iso(utcnow()), "exported_by": guard.actor(),
            "call": present.call_dict(call), **_whole(call)}
    return Response(json.dumps(body, indent=2, ensure_ascii=False), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="call-{call.sid}.json"'})


@bp.get("/calls/<sid>/print")
def print_page(sid):
    """The record as a printable page (its print CSS drops the controls)."""
    call = _call(sid)
    return render_template("call_print.html", call=call, data=present.call_dict(call), whole=_whole(call),
                           local=record.local, printed_by=guard.actor(), printed_at=record.local(utcnow()))
