"""Pronunciations for words PocketSphinx's dictionary (CMUdict) lacks: Indian names and places, Hinglish, acronyms.

No grapheme-to-phoneme library works offline here (g2p-en needs NLTK data downloads; its last release is from
2019), so this is a documented rule-based fallback, tried in order:
1. a dictionary word behind an English ending or spelling: `'s`, plural `s`/`es`, `ed`, `ing`, `ly`, `er`,
   British spellings (`labour`, `organise`, `dialled`, `jewellery`);
2. two dictionary words joined (`borewell`, `flyover`, `chargesheet`);
3. a word without vowels, or a short one starting with a vowel (`kyc`, `gst`, `otp`, `upi`), is spelled out;
4. otherwise letter-to-sound rules for romanised Hindi (`aa` AA, `bh` B, `chh` CH, a final `a` is AA, ...).
"""
import re

LETTERS = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY", "h": "EY CH",
    "i": "AY", "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M", "n": "EH N", "o": "OW", "p": "P IY",
    "q": "K Y UW", "r": "AA R", "s": "EH S", "t": "T IY", "u": "Y UW", "v": "V IY", "w": "D AH B AH L Y UW",
    "x": "EH K S", "y": "W AY", "z": "Z IY",
}
# longest grapheme first; romanised Hindi spells aspirated stops with an h that English phones do not have
GRAPHEMES = [
    ("chh", "CH"), ("aa", "AA"), ("ai", "EY"), ("au", "AW"), ("ee", "IY"), ("ii", "IY"), ("oo", "UW"),
    ("ou", "AW"), ("ow", "AW"), ("ay", "EY"), ("ei", "EY"), ("bh", "B"), ("ch", "CH"), ("dh", "D"),
    ("gh", "G"), ("jh", "JH"), ("kh", "K"), ("ph", "F"), ("sh", "SH"), ("th", "T"), ("ck", "K"), ("qu", "K W"),
    ("ng", "NG"),
    ("a", "AH"), ("e", "EH"), ("i", "IH"), ("o", "OW"), ("u", "UH"), ("y", "Y"), ("b", "B"), ("c", "K"),
    ("d", "D"), ("f", "F"), ("g", "G"), ("h", "HH"), ("j", "JH"), ("k", "K"), ("l", "L"), ("m", "M"),
    ("n", "N"), ("p", "P"), ("q", "K"), ("r", "R"), ("s", "S"), ("t", "T"), ("v", "V"), ("w", "W"),
    ("x", "K S"), ("z", "Z"),
]
FINAL_VOWELS = {"a": "AA", "i": "IY", "u": "UW", "e": "", "y": "IY"}
PREFIXES = {"un": "AH N", "re": "R IY"}
# two consonants that can start an English or romanised Hindi syllable; any other pair starts an acronym (cbi, mla)
ONSETS = {"bl", "br", "ch", "cl", "cr", "dr", "dw", "fl", "fr", "gl", "gr", "kl", "kr", "ky", "ph", "pl", "pr",
          "sc", "sh", "sk", "sl", "sm", "sn", "sp", "st", "sw", "th", "tr", "tw", "wh", "wr", "bh", "dh", "gh",
          "jh", "kh", "sr", "vr"}
BRITISH = [("ellery", "elry"), ("our", "or"), ("isation", "ization"), ("ise", "ize"), ("ising", "izing"),
           ("lled", "led"), ("lling", "ling"), ("ller", "ler"), ("tre", "ter"), ("yse", "yze")]
SUFFIXES = [("'s", "Z"), ("es", "Z"), ("s", "Z"), ("ed", "D"), ("d", "D"), ("ing", "IH NG"), ("ly", "L IY"),
            ("er", "ER")]
VOICELESS = {"P", "T", "K", "F", "TH"}
SIBILANTS = {"S", "Z", "SH", "ZH", "CH", "JH"}


def read_dictionary(path):
    """CMUdict-style file as {word: first pronunciation}."""
    words = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if parts:
                words.setdefault(re.sub(r"\(\d+\)$", "", parts[0]), " ".join(parts[1:]))
    return words


def pronounce(word, dictionary):
    """One pronunciation (space-separated phones) for a word, by the rules in the module docstring."""
    found = _known(word, dictionary) or _compound(word, dictionary)
    if found:
        return found
    stem = word[:-2] if word.endswith("'s") else word[:-1] if re.search(r"[^s']s$", word) and len(word) > 4 else ""
    if stem:
        base = pronounce(stem, dictionary)
        return base + " " + _ending(base, "Z")
    return _acronym(word) or _letter_to_sound(word)


def _known(word, dictionary, depth=0):
    if word in dictionary:
        return dictionary[word]
    if depth > 1:
        return None
    for british, american in BRITISH:
        if british in word and (found := _known(word.replace(british, american), dictionary, depth + 1)):
            return found
    for suffix, phones in SUFFIXES:
        stem = word[:-len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and (base := _known(stem, dictionary, depth + 1)):
            return base + " " + _ending(base, phones)
    return None


def _ending(base, phones):
    """English voicing of -s and -ed after the stem's last phone."""
    last = base.split()[-1]
    if phones == "Z":
        return "IH Z" if last in SIBILANTS else "S" if last in VOICELESS else "Z"
    if phones == "D":
        return "IH D" if last in {"T", "D"} else "T" if last in VOICELESS | {"S", "SH", "CH"} else "D"
    return phones


def _compound(word, dictionary):
    """Two dictionary words joined (the second at least 4 letters: short tails made Hindi words English)."""
    for prefix, phones in PREFIXES.items():
        if word.startswith(prefix) and (rest := _known(word[len(prefix):], dictionary)):
            return phones + " " + rest
    splits = sorted(((word[:i], word[i:]) for i in range(3, len(word) - 3) if "'" not in word[i:]),
                    key=lambda pair: abs(len(pair[0]) - len(pair[1])))
    for lookup in (dictionary.get, lambda tail: _known(tail, dictionary)):
        for head, tail in splits:
            if head in dictionary and (rest := lookup(tail)):
                return dictionary[head] + " " + rest
    return None


def _acronym(word):
    letters = word.replace("'", "")
    vowels = len(re.findall(r"[aeiou]", letters))
    if (not vowels or (len(letters) <= 3 and letters[0] in "aeiou" and vowels == 1)
            or (len(letters) <= 4 and not re.match(r"[aeiou]|.[aeiou]", letters) and letters[:2] not in ONSETS)):
        return " ".join(LETTERS[c] for c in letters if c in LETTERS)
    return None


def _letter_to_sound(word):
    word = re.sub(r"([b-df-hj-np-tv-z])\1", r"\1", word.replace("'", ""))
    phones, i = [], 0
    while i < len(word):
        for grapheme, phone in GRAPHEMES:
            if word.startswith(grapheme, i):
                last = i + len(grapheme) == len(word)
                if last and grapheme in FINAL_VOWELS and i > 0:
                    phone = FINAL_VOWELS[grapheme]
                if grapheme == "h" and (last or (i + 1 < len(word) and word[i + 1] not in "aeiouy")):
                    phone = ""      # an h closing a syllable is not heard (shah, rehmat)
                phones.append(phone)
                i += len(grapheme)
                break
        else:
            i += 1
    return " ".join(p for p in phones if p)
