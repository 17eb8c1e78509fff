import pytest

from ivr.triage.extract import extract


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
