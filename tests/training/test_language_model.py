"""`python -m training.language_model` on a tiny corpus: files, card, held-out rows unseen, reproducible."""
import json

import pytest

from ivr.speech.domain_lm import read_card
from ivr.speech.engines import PocketSphinxEngine
from training import language_model
from training.train import in_validation

NAMES = ["ramesh", "suresh", "dinesh", "mahesh", "ganesh", "naresh", "umesh", "rajesh", "lokesh", "mukesh",
         "yogesh", "jignesh"]


def sentences():
    rows = [f"{name} says there is a fight near the chowk please send the police" for name in NAMES]
    rows += [f"what is the status of the challan for {name}" for name in NAMES]
    return rows


@pytest.fixture
def corpus(tmp_path):
    labels = ["emergency"] * len(NAMES) + ["inquiry"] * len(NAMES)
    path = tmp_path / "corpus.csv"
    path.write_text("label,text\n" + "".join(f"{l},{t}\n" for l, t in zip(labels, sentences())), encoding="utf-8")
    return path


def build(corpus, out):
    return language_model.main(["--data", str(corpus), "--out", str(out), "--generic-words", "200", "--no-eval"])


def test_builds_a_model_the_engine_loads_from_the_training_split_only(tmp_path, corpus, capsys):
    out = tmp_path / "models" / "speech_lm.json"
    out.parent.mkdir()
    assert build(corpus, out) == 0
    card = json.loads(out.read_text())
    assert card["ngrams"]["3-grams"] > 0 and card["vocabulary"]["words"] >= 200
    assert card["rows"]["train"] + card["rows"]["validation_held_out"] == len(sentences())
    model = read_card(out)
    held_out = {name for text in sentences() if in_validation(text) for name in text.split()} - {
        word for text in sentences() if not in_validation(text) for word in text.split()}
    assert held_out, "the tiny corpus must hold some words out"
    assert not held_out & set(model.words)
    arpa = (out.parent / "speech_lm.arpa").read_text()
    assert not any(f" {word}\t" in arpa or f"\t{word} " in arpa for word in held_out)
    assert "chowk" in dict(model.pronunciations()) and "challan" in dict(model.pronunciations())
    assert PocketSphinxEngine(model).domain == model
    assert "language_model: " in capsys.readouterr().err


def test_the_build_is_reproducible_and_skipped_while_up_to_date(tmp_path, corpus, capsys):
    first, second = tmp_path / "a" / "speech_lm.json", tmp_path / "b" / "speech_lm.json"
    first.parent.mkdir(), second.parent.mkdir()
    assert build(corpus, first) == 0 and build(corpus, second) == 0
    for suffix in (".arpa", ".dict", ".vocab"):
        assert first.with_suffix(suffix).read_bytes() == second.with_suffix(suffix).read_bytes()
    assert not language_model.stale(str(corpus), first)
    assert language_model.main(["--data", str(corpus), "--out", str(first), "--if-stale", "--no-eval"]) == 0
    assert "up to date" in capsys.readouterr().err
    corpus.write_text(corpus.read_text() + "complaint,my neighbour plays loud music at night\n")
    assert language_model.stale(str(corpus), first)
    first.with_suffix(".arpa").write_text("changed")
    assert language_model.stale(str(corpus), second.parent / "missing.json")


def test_a_bad_corpus_names_its_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("label,text\nemergency,fire\nurgent,help\n")
    assert language_model.main(["--data", str(bad), "--out", str(tmp_path / "lm.json"), "--no-eval"]) == 2
    assert "line 3: unknown label 'urgent'" in capsys.readouterr().err
