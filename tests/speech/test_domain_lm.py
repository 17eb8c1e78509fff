"""The committed domain language model: checked against its card, used by PocketSphinx, better than generic."""
import json
import logging
import shutil

import numpy as np
import pytest

from ivr.speech.audio import read_wav
from ivr.speech.domain_lm import DomainModel, load_domain_model, read_card
from ivr.speech.engines import PocketSphinxEngine, load_engine
from ivr.transcribe import transcribe_pcm
from training.speech_wer import word_errors

from conftest import FIXTURES

ROOT = FIXTURES.parents[1]

CARD = ROOT / "models" / "speech_lm.json"
# the fixture sentences (tests/fixtures/make_audio.py) are not corpus rows: the model never saw them
SPOKEN = {
    "emergency_fire": "help there is a fire in the building at twelve main street please send the fire brigade",
    "emergency_knife": "please help a man with a knife is attacking people near the bus stand",
    "inquiry_passport": "hello i want to know the status of my passport verification",
    "complaint_noise": "my neighbours are playing loud music every night i want to make a complaint",
    "spam_prize": "congratulations you have won a free cruise press one now to claim your prize",
}


@pytest.fixture(scope="module")
def domain_engine():
    engine = PocketSphinxEngine(read_card(CARD))
    assert engine.domain is not None
    return engine


def copy_model(tmp_path):
    for path in CARD.parent.glob("speech_lm.*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / CARD.name


def errors(engine):
    total = 0
    for name, text in SPOKEN.items():
        _, pcm = read_wav(FIXTURES / "audio" / f"{name}.wav")
        silence = np.zeros(4000, dtype=np.int16)
        total += word_errors(text.split(), transcribe_pcm(np.concatenate([silence, pcm, silence]), engine).split())
    return total


def test_the_domain_model_hears_the_lines_words_better_than_the_generic_one(domain_engine):
    generic, domain = errors(PocketSphinxEngine()), errors(domain_engine)
    words = sum(len(text.split()) for text in SPOKEN.values())
    assert domain < generic
    assert domain / words <= 0.25


def test_the_extra_dictionary_gives_the_decoder_indian_words(domain_engine):
    words = dict(domain_engine.domain.pronunciations())
    assert {"chowk", "challan", "gurudwara", "kyc"} <= set(words)
    assert {"chowk", "challan", "gurudwara"} <= set(domain_engine.domain.words)


def test_the_app_settings_load_the_domain_model_by_default_and_generic_on_request():
    assert load_engine("pocketsphinx", "", str(CARD)).domain.lm == str(ROOT / "models" / "speech_lm.arpa")
    assert load_engine("pocketsphinx", "", "generic").domain is None


@pytest.mark.parametrize("damage, reason", [
    (lambda card: card.unlink(), "unreadable"),
    (lambda card: card.write_text("{not json"), "unreadable"),
    (lambda card: card.with_suffix(".arpa").write_text("\\data\\\nngram 1=1\n"), "stale or corrupt"),
    (lambda card: card.with_suffix(".dict").write_text("fire F AY ER\n"), "stale or corrupt"),
    (lambda card: card.write_text(json.dumps({"name": "triage"})), "not a speech_lm card"),
])
def test_a_missing_stale_or_corrupt_model_falls_back_to_generic_with_one_warning(tmp_path, caplog, damage, reason):
    card = copy_model(tmp_path)
    damage(card)
    with caplog.at_level(logging.WARNING):
        engine = load_engine("pocketsphinx", "", str(card))
    assert engine.domain is None
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert reason in record.getMessage() and "python -m training.language_model" in record.getMessage()
    assert engine.recognizer() is not None


def test_a_model_its_card_vouches_for_but_the_decoder_refuses_falls_back(tmp_path, caplog):
    (tmp_path / "bad.arpa").write_text("this is not a language model\n")
    (tmp_path / "bad.dict").write_text("")
    with caplog.at_level(logging.WARNING):
        engine = PocketSphinxEngine(DomainModel("x", str(tmp_path / "bad.arpa"), str(tmp_path / "bad.dict"), ()))
    assert engine.domain is None
    assert "does not load" in caplog.text
    assert "domain LM" not in engine.model


def test_generic_and_empty_settings_mean_the_generic_model_without_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert load_domain_model("generic") is None
        assert load_domain_model("") is None
    assert caplog.records == []
