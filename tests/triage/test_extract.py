import pytest

from ivr.triage.extract import extract, heard, rated


@pytest.mark.parametrize("text, phones, places, names", [
    ("hello police a man has collapsed behind the shiv mandir send ambulance", [], ["shiv mandir"], []),
    ("help there is a fire in the building at twelve main street", [], ["12 main street"], []),
    ("my name is ramesh kumar my number is nine eight one two three four five six seven eight",
     ["9812345678"], [], ["Ramesh Kumar"]),
    ("chain snatching near metro pillar number two hundred twelve in sector fourteen", [],
     ["metro pillar number 212", "sector 14"], []),
    ("this is sarah from apartment four b there is a man with a gun", [], ["apartment 4 b"], ["Sarah"]),
    ("call me back on double nine eight seven six five four three two one", ["9987654321"], [], []),
    ("call 9812345678 now", ["9812345678"], [], []),
    ("i am scared please come fast", [], [], []),
    ("there are two three people", [], [], []),
    ("", [], [], []),
])
def test_extracts_what_the_operator_needs(text, phones, places, names):
    assert extract(text) == {"phones": phones, "places": places, "names": names}


@pytest.mark.parametrize("text", [None, "\x00\xff" * 100, "road " * 5000, "nine " * 3000, "<script>alert(1)</script>"])
def test_odd_transcripts_never_crash(text):
    result = extract(text)
    assert set(result) == {"phones", "places", "names"}


@pytest.mark.parametrize("text, kind, entity, sure", [
    ("higher ed brown main 3 there is a fight", "places", "higher ed brown main 3", False),
    ("help there is a fire in the building at twelve main street", "places", "12 main street", True),
    ("a man collapsed behind the shiv mandir", "places", "shiv mandir", True),
    ("near the bus stand in sector fourteen", "places", "sector 14", True),
    ("call me on nine eight one two three four five six seven eight", "phones", "9812345678", True),
    ("my number is nine eight one two three four five", "phones", "9812345", False),
    ("my name is ramesh kumar", "names", "Ramesh Kumar", True),
    ("this is than going", "names", "Than", False),
])
def test_each_entity_says_how_sure_the_extraction_is(text, kind, entity, sure):
    [found] = [e for e in heard(text)[kind] if e["text"] == entity]
    assert found["uncertain"] is (not sure)
    assert (found["confidence"] >= 0.5) is sure and found["why"]


def test_garbled_words_are_named_in_the_reason():
    [place] = heard("higher ed brown main 3")["places"]
    assert place["why"].endswith("ordinary words, likely misheard: higher, ed, brown")


@pytest.mark.parametrize("stored", [None, "junk", {"places": None}, {"places": ["sector 14"], "phones": [], "names": []},
                                    {"places": [{"text": "sector 14", "confidence": 0.1}]}])
def test_stored_entities_old_or_rated_are_rated_the_same_way(stored):
    result = rated(stored)
    assert set(result) == {"phones", "places", "names"}
    assert result["places"] in ([], [{"text": "sector 14", "confidence": 0.9, "uncertain": False,
                                      "why": "place word; a number"}])
