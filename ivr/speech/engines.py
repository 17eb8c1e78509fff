"""Speech engines behind one interface: Vosk (production) and PocketSphinx (embedded offline default).

An engine is loaded once per process; each call gets its own recognizer, fed 8 kHz int16 PCM in batches,
which returns partial and final results as they come.
"""
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivr.speech.audio import SAMPLE_RATE, Upsampler
from ivr.speech.domain_lm import load_domain_model

log = logging.getLogger(__name__)

# Cepstral mean of telephone speech (G.711 at 8 kHz, upsampled) measured with PocketSphinx's en-us model.
# Starting live CMN here instead of the wideband default makes streaming output match whole-utterance
# decoding; with the default the first seconds of every call come out as noise words.
TELEPHONE_CMNINIT = "52.66,28.69,-22.62,52.95,-27.17,11.12,1.07,-9.63,16.01,-5.91,11.37,4.16,9.56"


@dataclass(frozen=True)
class Result:
    text: str
    final: bool


class EngineUnavailable(RuntimeError):
    """The configured speech engine cannot be loaded."""


class PocketSphinxEngine:
    """CMU PocketSphinx with the US English model shipped inside its wheel, and the domain language model
    (`ivr.speech.domain_lm`) when one is given.

    Building a decoder loads the model (~0.25 CPU s, holding the GIL), so finished calls hand theirs back
    for the next call; a reused decoder starts again from the telephone CMN, so it decodes like a new one.
    A domain model whose decoder does not build is dropped with one warning: the generic model takes over.
    """

    name = "pocketsphinx"
    MAX_IDLE = 32

    def __init__(self, domain=None):
        import pocketsphinx

        self._pocketsphinx = pocketsphinx
        self.domain = domain
        self._idle = []
        self._lock = threading.Lock()
        if domain is not None:
            try:
                self._release(self._decoder())
            except Exception as error:  # noqa: BLE001 - a bad language model must not silence the line
                log.warning("domain language model %s does not load (%s); speech uses PocketSphinx's generic model",
                            domain.lm, error)
                self.domain = None
        acoustic = str(Path(pocketsphinx.get_model_path()) / "en-us")
        self.model = f"{acoustic}, domain LM {self.domain.version}" if self.domain else acoustic

    def _decoder(self):
        if self.domain is None:
            return self._pocketsphinx.Decoder(samprate=16000, cmninit=TELEPHONE_CMNINIT, loglevel="FATAL")
        decoder = self._pocketsphinx.Decoder(samprate=16000, cmninit=TELEPHONE_CMNINIT, loglevel="FATAL",
                                             lm=self.domain.lm)
        words = self.domain.pronunciations()
        for n, (word, phones) in enumerate(words, start=1):
            decoder.add_word(word, phones, n == len(words))    # rebuild the search once, after the last word
        return decoder

    def recognizer(self):
        with self._lock:
            decoder = self._idle.pop() if self._idle else None
        if decoder is None:
            decoder = self._decoder()
        else:
            decoder.set_cmn(TELEPHONE_CMNINIT)
        return PocketSphinxRecognizer(decoder, self._pocketsphinx.Endpointer(sample_rate=16000), self._release)

    def _release(self, decoder):
        with self._lock:
            if len(self._idle) < self.MAX_IDLE:
                self._idle.append(decoder)


class PocketSphinxRecognizer:
    """Endpointer + decoder at 16 kHz; an utterance ends when the endpointer hears silence."""

    def __init__(self, decoder, endpointer, release):
        self._decoder, self._endpointer, self._release = decoder, endpointer, release
        self._upsample = Upsampler()
        self._pending = b""
        self._in_utterance = False
        self._last_partial = ""

    def accept(self, pcm):
        self._pending += self._upsample(pcm).tobytes()
        size = self._endpointer.frame_bytes
        results = []
        while len(self._pending) >= size:
            frame, self._pending = self._pending[:size], self._pending[size:]
            results.extend(self._frame(self._endpointer.process(frame)))
        return results

    def finish(self):
        # end_stream(b"") raises IndexError: with no bytes left over (every third 100 ms batch) just end the utterance
        speech = self._endpointer.end_stream(self._pending) if self._in_utterance and self._pending else None
        self._pending = b""
        results = self._frame(speech)
        if self._in_utterance:
            results.append(self._end_utterance())
        return [r for r in results if r.text or not r.final]

    @property
    def in_utterance(self):
        return self._in_utterance

    def close(self):
        """Hand the decoder back for the next call (once, and only between utterances)."""
        if self._decoder is not None:
            if self._in_utterance:
                self._decoder.end_utt()
            self._release(self._decoder)
            self._decoder = None

    def _frame(self, speech):
        results = []
        if speech is not None:
            if not self._in_utterance:
                self._decoder.start_utt()
                self._in_utterance = True
            self._decoder.process_raw(speech)
            partial = _hypstr(self._decoder.hyp())
            if partial and partial != self._last_partial:
                self._last_partial = partial
                results.append(Result(partial, final=False))
        if self._in_utterance and not self._endpointer.in_speech:
            results.append(self._end_utterance())
        return results

    def _end_utterance(self):
        self._decoder.end_utt()
        self._in_utterance = False
        self._last_partial = ""
        return Result(_hypstr(self._decoder.hyp()), final=True)


def _hypstr(hyp):
    return hyp.hypstr.strip() if hyp is not None else ""


class VoskEngine:
    """Kaldi models through Vosk; 8 kHz PCM goes in directly.

    With a domain vocabulary, a model built with a dynamic graph (`graph/HCLr.fst` + `graph/Gr.fst`, as Vosk's
    small models are) is limited at run time to those of the words it knows (KaldiRecognizer's grammar); a
    model with a static HCLG graph cannot take one and decodes with its own language model.
    """

    name = "vosk"

    def __init__(self, model_path, vocabulary=()):
        import vosk

        if not Path(model_path, "am").is_dir() and not Path(model_path, "final.mdl").exists():
            raise EngineUnavailable(f"no Vosk model at {model_path} (download one with: python -m ivr.speech.vosk_model)")
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model = str(model_path)
        self._model = vosk.Model(str(model_path))
        self.grammar = self._grammar(vocabulary)

    def _grammar(self, vocabulary):
        """The JSON word list for KaldiRecognizer, or None when the model cannot take one or knows none of them."""
        if not vocabulary:
            return None
        if not all(Path(self.model, "graph", name).exists() for name in ("HCLr.fst", "Gr.fst")):
            log.warning("Vosk model %s has a static graph: the domain vocabulary cannot be applied at run time "
                        "(rebuild its graph with the domain model, see README)", self.model)
            return None
        known = sorted({w for w in vocabulary if self._model.vosk_model_find_word(w) >= 0})
        if not known:
            log.warning("Vosk model %s knows none of the %d domain words: decoding with its own language model",
                        self.model, len(set(vocabulary)))
            return None
        log.info("Vosk model %s limited to %d of %d domain words", self.model, len(known), len(set(vocabulary)))
        words = known + (["[unk]"] if self._model.vosk_model_find_word("[unk]") >= 0 else [])
        return json.dumps(words, ensure_ascii=False)    # Vosk reads the words literally, not JSON escapes

    def recognizer(self):
        if self.grammar:
            return VoskRecognizer(self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE, self.grammar))
        return VoskRecognizer(self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE))


class VoskRecognizer:
    def __init__(self, kaldi):
        self._kaldi = kaldi
        self._last_partial = ""
        self.in_utterance = False

    def accept(self, pcm):
        if self._kaldi.AcceptWaveform(np.ascontiguousarray(pcm, dtype=np.int16).tobytes()):
            self.in_utterance = False
            self._last_partial = ""
            text = json.loads(self._kaldi.Result()).get("text", "").strip()
            return [Result(text, final=True)] if text else []
        partial = json.loads(self._kaldi.PartialResult()).get("partial", "").strip()
        if partial and partial != self._last_partial:
            self._last_partial = partial
            self.in_utterance = True
            return [Result(partial, final=False)]
        return []

    def finish(self):
        self.in_utterance = False
        text = json.loads(self._kaldi.FinalResult()).get("text", "").strip()
        return [Result(text, final=True)] if text else []

    def close(self):
        self._kaldi = None


def load_engine(name, vosk_model_path, language_model=None, vosk_vocabulary=False):
    """Pick the engine: `vosk`, `pocketsphinx`, or `auto` (Vosk when a model is present). A Vosk model that will
    not load never stops the line: the embedded PocketSphinx takes over, with an error in the log.
    `language_model` is the domain model's card (ASR_LANGUAGE_MODEL); PocketSphinx decodes with it, and Vosk
    takes its vocabulary when `vosk_vocabulary` (VOSK_DOMAIN_VOCABULARY) is on."""
    if name not in ("auto", "vosk", "pocketsphinx"):
        raise EngineUnavailable(f"ASR_ENGINE must be auto, vosk or pocketsphinx, not {name!r}")
    present = bool(vosk_model_path) and Path(vosk_model_path).is_dir() and any(Path(vosk_model_path).iterdir())
    domain = load_domain_model(language_model)
    if name == "vosk" or (name == "auto" and present):
        try:
            return VoskEngine(vosk_model_path, domain.words if domain and vosk_vocabulary else ())
        except Exception as error:  # noqa: BLE001 - a broken model folder must not silence the line
            log.error("Vosk model at %s does not load (%s): using PocketSphinx instead; fix the folder or download "
                      "a model with `python -m ivr.speech.vosk_model NAME`", vosk_model_path, error)
    return PocketSphinxEngine(domain)


def engine_from_config(config):
    """The engine the app runs with these settings (the app and `python -m ivr.transcribe` share it)."""
    return load_engine(config["ASR_ENGINE"], config["VOSK_MODEL_PATH"], config["ASR_LANGUAGE_MODEL"],
                       config["VOSK_DOMAIN_VOCABULARY"])


def init_app(app):
    engine = engine_from_config(app.config)
    log.info("speech engine: %s (%s)", engine.name, engine.model)
    app.extensions["ivr.speech"] = engine
