"""Voices and channel conditions for telephone transcripts: seeded, reproducible, held-out voices kept apart."""
import csv

import numpy as np
import pytest

from ivr.speech.audio import mulaw_decode, mulaw_encode
from training import conditions, telephone, train
from training.conditions import Condition

CORPUS = train.ROOT / "training" / "data" / "corpus.csv"


@pytest.fixture(scope="module")
def texts():
    return train.read_corpus(CORPUS)[0]


def test_the_assignment_is_seeded_by_the_text_and_reproducible(texts):
    first = [conditions.plan(text, train.in_validation(text)) for text in texts[:300]]
    again = [conditions.plan(text, train.in_validation(text)) for text in texts[:300]]
    assert first == again
    varied = [plan[1] for plan in first]
    assert len({c.voice for c in varied}) > 10 and len({c.name for c in varied}) > 100   # conditions vary
    assert {c.voice.split("/")[0] for c in varied} == {"flite", "espeak-ng"}
    assert any(c.loss for c in varied) and any(c.snr_db for c in varied) and any(c.speed != 1 for c in varied)


def test_held_out_voices_speak_validation_sentences_only(texts):
    for text in texts:
        validation = train.in_validation(text)
        plan = conditions.plan(text, validation)
        assert [c.held_out for c in plan].count(True) == (1 if validation else 0) + (
            1 if validation and plan[0].held_out else 0)
        assert validation or not any(c.held_out for c in plan)
    assert {conditions.base_voice(v) for v in conditions.voices("espeak-ng", held_out=True)} <= set(conditions.HELD_OUT)


def test_the_channel_is_reproducible_and_does_what_the_condition_says():
    t = np.arange(8000 * 2) / 8000
    speech = (8000 * np.sin(2 * np.pi * 300 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.int16)
    lossy = Condition("flite/slt", gain_db=-6, snr_db=20, loss=0.1)
    one = conditions.channel(speech, lossy, conditions.rng_for("a sentence", lossy.name))
    two = conditions.channel(speech, lossy, conditions.rng_for("a sentence", lossy.name))
    assert np.array_equal(one, two)
    frames = one[:len(one) // 160 * 160].reshape(-1, 160)
    assert 0.04 < np.mean(np.all(frames == 0, axis=1)) < 0.2       # about 10 % of 20 ms packets lost
    clean = conditions.channel(speech, Condition("flite/slt"), conditions.rng_for("a sentence", "clean"))
    assert np.array_equal(clean, mulaw_decode(mulaw_encode(speech)))   # a clean line is G.711 and nothing else
    quiet = speech == 0
    assert np.std(one[quiet & (one != 0)]) > 0        # line noise fills the pauses


def test_old_rows_are_kept_and_held_out_rows_never_train(tmp_path, texts):
    validation = next(t for t in texts if train.in_validation(t))
    training = next(t for t in texts if not train.in_validation(t))
    path = tmp_path / "tel.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "text", "voice", "condition", "source", "asr"])
        for voice in ("flite/rms", "espeak-ng/en-029+f2", "flite/slt", "espeak-ng/en-us"):
            for source in (validation, training):
                writer.writerow(["spam", f"heard by {voice} of {source[:10]}", voice, "clean", source, telephone.GENERIC])
    parts = train.split(texts, train.read_corpus(CORPUS)[1], train.read_telephone(path))
    trained = " ".join(parts["train_telephone"][0] + parts["validation_telephone"][0])
    assert "rms" not in trained and "en-029" not in trained
    assert sorted(parts["heldout_telephone"][0]) == [f"heard by espeak-ng/en-029+f2 of {validation[:10]}",
                                                    f"heard by flite/rms of {validation[:10]}"]
    assert len(parts["train_telephone"][0]) == 2 and len(parts["validation_telephone"][0]) == 2


def test_the_committed_transcripts_keep_held_out_voices_out_of_training():
    parts = train.split(*train.read_corpus(CORPUS), train.read_telephone(train.DATA / "telephone.csv.gz"))
    with train.open_csv(train.DATA / "telephone.csv.gz") as handle:
        rows = list(csv.DictReader(handle))
    held = [row for row in rows if conditions.base_voice(row["voice"]) in conditions.HELD_OUT]
    assert held and all(train.in_validation(row["source"]) for row in held)
    assert len(parts["heldout_telephone"][0]) == len([row for row in held if row["text"]])   # heard nothing: no row
    assert len({row["asr"] for row in rows}) == 1            # one speech path wrote them all


def test_a_resumed_run_keeps_the_first_format_and_only_plans_what_is_missing(tmp_path, texts):
    path = tmp_path / "tel.csv"
    path.write_text(f"label,text,voice,source\nspam,what was heard,slt,{texts[0]}\n")
    done = telephone.load_done(path, speech=telephone.GENERIC)
    assert list(done) == [(texts[0], "flite/slt", "clean")]
    assert telephone.load_done(path, speech="pocketsphinx-en-us+lm-1") == {}     # another path's rows are redone
    labels = train.read_corpus(CORPUS)[1]
    jobs = telephone.jobs_for(texts[:50], labels[:50], done)
    planned = telephone.planned(texts[:50])
    assert len(jobs) == len(planned) - ((texts[0], "flite/slt", "clean") in planned)
    assert [job for job in jobs if job[2].held_out] == jobs[:sum(job[2].held_out for job in jobs)]   # held-out first
