"""What an operator needs to act, pulled out of a transcript: phone numbers, places, names.

Speech recognisers write numbers as words ("nine eight one two ...") and places as phrases ("near the bus
stand in sector twelve"), so the rules here work on words. They favour recall: an operator glances at a
wrong guess and skips it, but cannot see what was never shown.
"""
import re

DIGITS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "to": "2", "three": "3", "four": "4",
          "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
REPEATS = {"double": 2, "triple": 3}
NUMBERS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
           "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
           "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}
PLACE_WORDS = (
    "street", "road", "lane", "marg", "nagar", "colony", "sector", "chowk", "bazaar", "market", "mandir",
    "temple", "masjid", "mosque", "church", "gurudwara", "bus stand", "bus stop", "station", "metro", "hospital",
    "school", "college", "park", "mall", "bridge", "flyover", "toll plaza", "ghat", "naka", "circle", "square",
    "avenue", "highway", "apartment", "apartments", "building", "tower", "block", "phase", "village", "petrol pump",
    "atm", "bank", "cinema", "hotel", "office", "crossing", "junction", "gate", "parking lot", "complex", "society",
    "layout", "main", "boulevard", "drive", "plaza", "campus", "pillar", "police station",
)
PREPOSITIONS = ("near", "at", "in", "on", "behind", "opposite", "outside", "inside", "beside", "next to",
                "in front of", "close to", "from", "of", "by")
STOP = {"the", "a", "an", "my", "our", "his", "her", "their", "this", "that", "there", "is", "are", "was",
        "and", "please", "sir", "madam", "police", "help", "come", "fast", "send", "someone", "here", "it",
        "i", "we", "he", "she", "they", "me", "you", "some", "very", "right", "now", "just", "uh", "um"}
NAME_TRIGGERS = re.compile(r"\b(?:my name is|my name's|this is|i am|i'm|name of|mister|mr|mrs|miss|ms|shri|"
                           r"smt|called)\s+([a-z']+)(?:\s+([a-z']+))?")
NOT_NAMES = STOP | {"calling", "from", "not", "going", "at", "in", "near", "an", "emergency", "urgent", "scared",
                    "so", "being", "very", "really", "afraid", "inside", "outside", "alone", "lost", "hurt",
                    "on", "with", "sure", "sorry", "also", "still", "trying", "standing", "stuck", "bleeding"}
MAX_WORDS = 2000


def extract(text):
    """{'phones': [...], 'places': [...], 'names': [...]} found in the transcript (each list de-duplicated)."""
    words = re.sub(r"[^a-z0-9' ]", " ", str(text or "").lower()).split()[:MAX_WORDS]
    return {"phones": _unique(phone_numbers(words)), "places": _unique(places(words)),
            "names": _unique(names(" ".join(words)))}


def phone_numbers(words):
    """Runs of 6 to 13 spoken or written digits ('double four' counts twice)."""
    found, run, repeat = [], "", 1
    for word in words + [""]:
        if word in REPEATS:
            repeat = REPEATS[word]
            continue
        digits = DIGITS.get(word) or (word if word.isdigit() else None)
        if digits is not None:
            run += digits * repeat
        else:
            if 6 <= len(run) <= 13:
                found.append(run)
            run = ""
        repeat = 1
    return found


def places(words):
    """Phrases that end in (or start with) a place word, e.g. 'shiv mandir', 'sector 12', '12 main street'."""
    text = " ".join(words)
    found = []
    for match in re.finditer(r"\b(?:" + "|".join(re.escape(w) for w in PLACE_WORDS) + r")\b", text):
        before = text[:match.start()].split()
        head = []
        for word in reversed(before[-4:]):
            if word in STOP or word in PREPOSITIONS:
                break
            head.insert(0, word)
        after = text[match.end():].split()
        tail = []
        for position, word in enumerate(after[:5]):
            numeric = word in DIGITS or word in NUMBERS or word.isdigit()
            if numeric or (len(word) == 1 and word.isalpha()) or (word in ("number", "no") and position == 0):
                tail.append(word)
            else:
                break
        while tail and tail[-1] in ("number", "no"):
            tail.pop()
        phrase = " ".join(head + [match.group(0)] + tail)
        if head or tail or " " in match.group(0):   # a bare "road" says nothing; "bus stand" does
            found.append(_numerals(phrase))
    return _without_fragments(found)


def names(text):
    """Names introduced the usual ways: 'my name is ...', 'this is ...', 'mr ...'."""
    found = []
    for match in NAME_TRIGGERS.finditer(text):
        parts = [part for part in match.groups() if part]
        if not parts or parts[0] in NOT_NAMES:
            continue
        name = parts[0] if len(parts) == 1 or parts[1] in NOT_NAMES else f"{parts[0]} {parts[1]}"
        found.append(name.title())
    return found


def _numerals(phrase):
    """'sector twelve' -> 'sector 12'; 'two hundred twelve' -> '212' (small numbers only)."""
    out, total, pending = [], 0, False
    for word in phrase.split() + [""]:
        value = NUMBERS.get(word, int(DIGITS[word]) if word in DIGITS else None)
        if value is not None:
            total = total * value if value == 100 and total else total + value
            pending = True
            continue
        if pending:
            out.append(str(total))
            total, pending = 0, False
        if word:
            out.append(word)
    return " ".join(out)


def _without_fragments(found):
    return [place for place in found if not any(place != other and place in other for other in found)]


def _unique(items):
    return list(dict.fromkeys(items))


# How sure an entity is, from its own words (so calls stored before these rules are rated the same way).
# Recognisers substitute ordinary words and short fragments for names they do not know ("higher ed brown main
# 3"), while real places are a place word with a number or a name. The recognisers give no per-word
# confidence through ivr.speech.engines, so the rules read pattern strength and the kind of words only.
UNSURE_BELOW = 0.5
WEAK_PLACE_WORDS = {"main", "block", "phase", "circle", "square", "gate", "drive", "office", "complex", "society",
                    "layout", "plaza", "park", "bank", "tower", "building", "campus", "atm", "hotel"}
PLACE_NAME_WORDS = {
    "shiv", "ram", "hanuman", "durga", "kali", "sai", "krishna", "ganesh", "gandhi", "nehru", "indira", "rajiv",
    "patel", "ambedkar", "subhash", "netaji", "tilak", "mg", "gt", "old", "new", "green", "red", "model", "civil",
    "lines", "city", "central", "railway", "bus", "police", "district", "government", "lal",
    "nagar", "vihar", "pur", "puram", "ganj", "bagh", "karol", "lajpat", "saket", "andheri", "dadar", "bandra",
    "sadar", "sarojini", "connaught", "janpath", "rajpath", "north", "south", "east", "west", "upper", "lower",
    "ring", "outer", "inner", "national", "state", "st", "rd", "nh", "jn", "dr", "no", "number", "metro",
}
COMMON_WORDS = {
    "than", "then", "and", "or", "but", "if", "so", "as", "be", "been", "were", "was", "had", "has", "have", "do",
    "did", "does", "done", "will", "would", "could", "should", "can", "may", "might", "must", "not", "yes", "what",
    "which", "who", "whom", "why", "how", "when", "where", "all", "any", "each", "every", "few", "more", "most",
    "other", "such", "only", "own", "same", "too", "also", "even", "ever", "never", "about", "above", "after",
    "again", "before", "below", "down", "during", "into", "off", "over", "under", "until", "up", "with", "without",
    "through", "upon", "go", "going", "went", "get", "got", "make", "made", "take", "took", "see", "saw", "say",
    "said", "tell", "told", "know", "knew", "think", "want", "like", "look", "came", "give", "gave", "find",
    "found", "try", "ask", "need", "feel", "leave", "put", "keep", "let", "seem", "show", "hear", "heard", "play",
    "run", "move", "live", "bring", "happen", "write", "higher", "high", "low", "big", "bigger", "small", "good",
    "better", "best", "bad", "worse", "long", "little", "great", "brown", "blue", "yellow", "purple", "grey",
    "gray", "thing", "things", "way", "time", "year", "day", "man", "men", "woman", "people", "said", "well",
    "much", "many", "what's", "that's", "it's", "don't", "can't", "won't", "i'll", "we'll", "you'll", "they're",
    "these", "those", "them", "him", "its", "your", "yours", "ours", "mine", "who's", "okay", "yeah", "hello",
    "hi", "hey", "ah", "oh", "er", "hmm", "huh", "ya", "yep", "nope", "because", "while", "though", "although",
    "really", "quite", "maybe", "perhaps", "already", "yet", "still", "almost", "enough", "whether",
}
PHONE_PREFIXES = ("91", "0")


def heard(text):
    """The entities in TEXT, each rated (see `rated`)."""
    return rated(extract(text))


def rated(entities):
    """{'phones'|'places'|'names': [{'text', 'confidence', 'uncertain', 'why'}]} from extract()'s lists (or
    from entities already rated); None or junk gives empty lists."""
    entities = entities if isinstance(entities, dict) else {}
    rules = {"phones": rate_phone, "places": rate_place, "names": rate_name}
    return {kind: [_rated_one(item, rule) for item in entities.get(kind) or [] if item] for kind, rule in rules.items()}


def _rated_one(item, rule):
    text = str(item.get("text", "") if isinstance(item, dict) else item)
    confidence, why = rule(text)
    confidence = round(min(0.95, max(0.05, confidence)), 2)
    return {"text": text, "confidence": confidence, "uncertain": confidence < UNSURE_BELOW, "why": why}


def rate_phone(digits):
    """(confidence, why) for a digit run: an Indian mobile or a landline with its code is a strong pattern."""
    local = digits
    for prefix in PHONE_PREFIXES:
        if len(digits) > 10 and digits.startswith(prefix):
            local = digits[len(prefix):]
            break
    if len(local) == 10 and local[0] in "6789":
        return 0.9, "10-digit mobile number"
    if len(local) == 10:
        return 0.7, "10 digits: a landline with its code?"
    return 0.35, f"{len(digits)} digits: not a whole phone number"


def rate_place(phrase):
    """(confidence, why) for a place phrase: the kind of place word, a number, and the words naming it."""
    words = phrase.split()
    anchors = [w for w in words if w in PLACE_WORDS] + [p for p in PLACE_WORDS if " " in p and p in phrase]
    strong = any(anchor not in WEAK_PLACE_WORDS for anchor in anchors)
    score, why = (0.75, ["place word"]) if strong else (0.5, ["weak place word"])
    if any(w.isdigit() for w in words):
        score += 0.15
        why.append("a number")
    naming = [w for w in words if w not in PLACE_WORDS and not w.isdigit() and len(w) > 1
              and not any(w in anchor.split() for anchor in anchors)]
    garbled = [w for w in naming if w not in PLACE_NAME_WORDS and (w in COMMON_WORDS or len(w) == 2)]
    score += 0.05 * sum(w in PLACE_NAME_WORDS for w in naming) - 0.25 * len(garbled)
    score -= 0.1 * max(0, len(naming) - 2)
    if garbled:
        why.append("ordinary words, likely misheard: " + ", ".join(garbled))
    return score, "; ".join(why)


def rate_name(name):
    """(confidence, why) for a name: ordinary words and fragments are how a misheard name shows."""
    parts = name.lower().split()
    odd = [p for p in parts if p in COMMON_WORDS or p in STOP or len(p) <= 2]
    if odd:
        return 0.3, "ordinary words, likely misheard: " + ", ".join(odd)
    return 0.7, "introduced by name"
