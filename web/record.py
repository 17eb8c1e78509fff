"""A call's whole record as an operator's brief: timed turns, rated entities, tactics and threat level, notes,
who handled it and the decision trail. The call page, the print page, the JSON export and the API share it."""
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app

from ivr.store.models import aware
from ivr.triage import tactics
from ivr.triage.extract import extract, rated
from web import present

SCHEMA = "ivr.call-record/1"
# audit actions on a call, as the trail and "handled by" say them
DONE = {"call.label": "corrected the class", "call.note": "wrote a note", "call.export": "exported the record",
        "call.claim": "took the call", "queue.take": "took the caller from the queue"}


def spoken(call):
    """Everything heard so far: the final transcript and the words still being recognised."""
    return " ".join(part for part in (call.transcript, call.partial_transcript) if part)


def turns(call):
    """The final utterances with their offsets; a call stored before timed turns shows its transcript as one."""
    if call.turns:
        return [{"at": turn.get("at"), "text": turn.get("text", "")} for turn in call.turns]
    return [{"at": None, "text": call.transcript}] if call.transcript else []


def entities(call):
    """Places, numbers and names, each with how sure the extraction is."""
    return rated(call.entities or extract(spoken(call)))


def live_fields(call):
    """What a call's live event adds to ivr's call_dict for the call page: entities, turns, tactics, threat."""
    return {"entities": entities(call), "turns": turns(call), **tactics.assess(spoken(call))}


def zone():
    """The control room's zone (WEB_TIME_ZONE, checked by ivr.config at start)."""
    return ZoneInfo(current_app.config["WEB_TIME_ZONE"])


def local(moment, fmt="%d %b %Y, %H:%M:%S %Z"):
    """MOMENT (stored in UTC; a datetime or an ISO string) as the control room's local time."""
    moment = aware(datetime.fromisoformat(moment) if isinstance(moment, str) else moment)
    return moment.astimezone(zone()).strftime(fmt) if moment else ""


def timeline(call, history):
    """The decision trail: (time, what) from the call's own stamps and the audit log, oldest first."""
    events = [(call.created_at, "ringing: call arrived"), (call.stream_started_at, "audio stream started"),
              (call.decided_at, f"decided: {call.decision}"), (call.ended_at, f"ended: {call.status}"),
              (call.connected_at, "connected to a desk"),
              (call.operator_label_at, f"class corrected by {call.operator_label_by}")]
    events += [(entry.at, f"{entry.actor} {DONE.get(entry.action, entry.action)}") for entry in history
               if entry.action != "call.label"]
    return sorted(((aware(at), what) for at, what in events if at is not None), key=lambda event: event[0])


def handled_by(call, history, notes):
    """[{'who', 'did': [...]}]: every operator who acted on the call, first actor first."""
    acts = [(call.taken_at, call.taken_by, "took the caller from the queue"),
            (call.operator_label_at, call.operator_label_by, "corrected the class")]
    acts += [(entry.at, entry.actor, DONE.get(entry.action, entry.action)) for entry in history
             if entry.action not in ("call.label", "call.export")]   # reading the record is not handling the call
    acts += [(note.created_at, note.author, "wrote a note") for note in notes]
    people = {}
    for _, who, did in sorted((a for a in acts if a[1]), key=lambda a: aware(a[0]) or aware(call.created_at)):
        people.setdefault(who, [])
        if did not in people[who]:
            people[who].append(did)
    return [{"who": who, "did": did} for who, did in people.items()]


def note_dict(note):
    return {"author": note.author, "at": present.iso(note.created_at), "local_time": local(note.created_at),
            "body": note.body}


def build(call, history, notes):
    """The whole record as plain data (the export's body; the API adds it to the call)."""
    return {"turns": turns(call), "partial_transcript": call.partial_transcript, "entities": entities(call),
            **tactics.assess(spoken(call)), "notes": [note_dict(note) for note in notes],
            "handled_by": handled_by(call, history, notes),
            "timeline": [{"at": present.iso(at), "what": what} for at, what in timeline(call, history)]}
