"""The labelled corpus and its telephone-channel transcripts: reading, checking, and the fixed validation split."""
import csv
import gzip
import hashlib
import io
from pathlib import Path

from ivr.vocabulary import LABELS
from training.conditions import HELD_OUT, base_voice

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "training" / "data"
VALIDATION_SHARE = 5        # one row in five
TELEPHONE_PARTS = ("validation_telephone", "heldout_telephone")


class CorpusError(ValueError):
    """A corpus row that cannot be trained on; the message names the line."""


def open_csv(path, mode="r", compressed=None):
    """A CSV file for reading or writing text; gzip-compressed when COMPRESSED, by default when its name ends in .gz
    (the telephone transcripts: a megabyte of generated text). Written with no timestamp, so the same rows give
    the same bytes (and hash)."""
    if str(path).endswith(".gz") if compressed is None else compressed:
        if "w" in mode:
            raw = gzip.GzipFile(filename="", mode="wb", fileobj=open(path, "wb"), mtime=0)
            raw.myfileobj = raw.fileobj      # closing the gzip stream closes the file under it too
            return io.TextIOWrapper(raw, encoding="utf-8", newline="")
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def normalise(text):
    return " ".join((text or "").split())


def read_corpus(path):
    """Read `label,text` rows; reject unknown labels, empty texts and duplicates with their line number."""
    texts, labels, seen = [], [], {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"label", "text"} <= set(reader.fieldnames):
            raise CorpusError(f"{path}: line 1: header must have the columns label,text")
        for row in reader:
            line = reader.line_num
            label, text = (row["label"] or "").strip(), normalise(row["text"])
            if label not in LABELS:
                raise CorpusError(f"{path}: line {line}: unknown label {label!r} (expected one of {', '.join(LABELS)})")
            if not text:
                raise CorpusError(f"{path}: line {line}: empty text")
            if text.lower() in seen:
                raise CorpusError(f"{path}: line {line}: duplicate of line {seen[text.lower()]}")
            seen[text.lower()] = line
            texts.append(text)
            labels.append(label)
    return texts, labels


def read_from_db(url, known=()):
    """(label, transcript) of calls whose class an operator confirmed or corrected in the control room."""
    from sqlalchemy import select

    from ivr.store import Database
    from ivr.store.models import Call

    db = Database().configure(url)
    try:
        with db.reader() as session:
            rows = session.execute(select(Call.operator_label, Call.transcript).where(
                Call.operator_label.in_(LABELS), Call.transcript != "")).all()
    finally:
        db.dispose()
    seen = {text.lower() for text in known}
    extra = []
    for label, text in rows:
        text = normalise(text)
        if text and text.lower() not in seen:
            seen.add(text.lower())
            extra.append((label, text))
    return extra


def read_telephone(path):
    """Telephone-channel transcripts as {source sentence: [(label, transcript, voice), ...]} (training.telephone).
    A bare voice name is a flite voice (the first file format)."""
    copies = {}
    if path and Path(path).exists():
        with open_csv(path) as handle:
            for row in csv.DictReader(handle):
                if row["text"].strip() and row["label"] in LABELS:
                    voice = row.get("voice") or ""
                    voice = voice if "/" in voice else f"flite/{voice}"
                    copies.setdefault(normalise(row["source"]), []).append(
                        (row["label"], normalise(row["text"]), voice))
    return copies


def in_validation(text):
    """The fixed validation fold: decided by the text itself, so adding rows never moves old ones."""
    return int(hashlib.sha1(normalise(text).lower().encode()).hexdigest(), 16) % VALIDATION_SHARE == 0


def voice_word_error_rates(telephone):
    """{voice: word error rate of its transcripts against their source sentences}, espeak-ng variants pooled."""
    from training.speech_wer import word_errors

    errors, words = {}, {}
    for source, copies in telephone.items():
        for _, copy, voice in copies:
            voice = base_voice(voice)
            errors[voice] = errors.get(voice, 0) + word_errors(source.split(), copy.split())
            words[voice] = words.get(voice, 0) + len(source.split())
    return {voice: round(errors[voice] / words[voice], 4) for voice in sorted(errors)}


def split(texts, labels, telephone, unheard=()):
    """Training and validation rows as {part: (texts, labels, groups)}; telephone copies follow their source
    sentence (its text is the group), and held-out voices' copies only ever land in heldout_telephone. Copies
    by UNHEARD training voices (training.train.MAX_VOICE_WER) are left out of training and validation."""
    parts = {name: ([], [], []) for name in ("train", "validation", "train_telephone", *TELEPHONE_PARTS)}
    for text, label in zip(texts, labels):
        validation = in_validation(text)
        _add(parts["validation" if validation else "train"], text, label, text)
        for copy_label, copy, voice in telephone.get(text, ()):
            if base_voice(voice) in unheard and base_voice(voice) not in HELD_OUT:
                continue
            if base_voice(voice) in HELD_OUT:
                if validation:      # a held-out voice on a training sentence would still leak its text: unused
                    _add(parts["heldout_telephone"], copy, copy_label, voice)
            else:
                _add(parts["validation_telephone" if validation else "train_telephone"], copy, copy_label, text)
    return parts


def _add(part, text, label, group):
    part[0].append(text)
    part[1].append(label)
    part[2].append(group)
