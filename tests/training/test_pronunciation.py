"""Rule-based pronunciations for words CMUdict lacks."""
import pytest

from training.pronunciation import pronounce

DICTIONARY = {"labor": "L EY B ER", "bore": "B AO R", "well": "W EH L", "anand": "AH N AA N D",
              "traced": "T R EY S T", "dial": "D AY AH L", "jewelry": "JH UW AH L R IY"}


@pytest.mark.parametrize("word, phones", [
    ("labour", "L EY B ER"),                     # British spelling
    ("dialled", "D AY AH L D"),
    ("jewellery", "JH UW AH L R IY"),
    ("anand's", "AH N AA N D Z"),                # possessive
    ("borewell", "B AO R W EH L"),               # two words joined
    ("untraced", "AH N T R EY S T"),             # prefix
    ("kyc", "K EY W AY S IY"),                   # no vowel: spelled out
    ("otp", "OW T IY P IY"),
    ("cbi", "S IY B IY AY"),                     # no syllable starts "cb"
    ("chowk", "CH AW K"),                        # romanised Hindi
    ("bhaiya", "B EY Y AA"),
    ("thana", "T AH N AA"),
    ("challans", "CH AH L AH N Z"),
])
def test_pronunciations(word, phones):
    assert pronounce(word, DICTIONARY) == phones


def test_every_phone_is_one_the_acoustic_model_has():
    """The en-us acoustic model's 39 base phones (ARPAbet without stress marks)."""
    phones = set("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
                 "ZH".split())
    for word in ("gurudwara", "aadhaar", "chhota", "qazi", "xerox", "sabzi", "namaz", "mohalla"):
        assert set(pronounce(word, DICTIONARY).split()) <= phones, word
