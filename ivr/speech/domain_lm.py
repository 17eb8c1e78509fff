"""The domain language model (built by `python -m training.language_model`), checked against its card.

The card (`models/speech_lm.json`) names the PocketSphinx language model and the extra pronunciation dictionary
and holds their SHA-256. A missing, unreadable or mismatched model never stops the line: one warning, and the
engine keeps PocketSphinx's generic model.
"""
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CARD_NAME = "speech_lm"
GENERIC = ("", "generic")


class DomainModelError(ValueError):
    """The card or its files do not make a usable domain language model."""


@dataclass(frozen=True)
class DomainModel:
    version: str
    lm: str
    dictionary: str
    words: tuple            # the model's vocabulary, for engines that take a word list (Vosk)

    def pronunciations(self):
        """(word, phones) pairs of the extra dictionary."""
        with open(self.dictionary, encoding="utf-8") as handle:
            return [(parts[0], " ".join(parts[1:])) for parts in map(str.split, handle) if len(parts) > 1]


def read_card(card_path):
    """The checked DomainModel of a card; raises DomainModelError naming what is wrong."""
    card_path = Path(card_path)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DomainModelError(f"card {card_path} unreadable ({error})") from error
    if not isinstance(card, dict) or card.get("name") != CARD_NAME:
        raise DomainModelError(f"{card_path} is not a {CARD_NAME} card")
    files = {}
    for key in ("artifact", "dictionary", "vocabulary"):
        entry = card.get(key)
        if not isinstance(entry, dict) or not entry.get("file") or not entry.get("sha256"):
            raise DomainModelError(f"card {card_path} names no {key}")
        path = card_path.parent / entry["file"]
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as error:
            raise DomainModelError(f"{path} unreadable ({error})") from error
        if digest != entry["sha256"]:
            raise DomainModelError(f"{path} is not the file its card describes (SHA-256 differs: stale or corrupt)")
        files[key] = path
    words = tuple(files["vocabulary"].read_text(encoding="utf-8").split())
    return DomainModel(str(card.get("version", "")), str(files["artifact"]), str(files["dictionary"]), words)


def load_domain_model(card_path):
    """The domain model named by ASR_LANGUAGE_MODEL, or None (generic) with one warning when it is unusable."""
    if str(card_path or "").strip() in GENERIC:
        return None
    try:
        return read_card(card_path)
    except DomainModelError as error:
        log.warning("domain language model not used: %s; speech uses PocketSphinx's generic model "
                    "(rebuild with `python -m training.language_model`, or set ASR_LANGUAGE_MODEL=generic)", error)
        return None
