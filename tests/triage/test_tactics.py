"""Tactics heard in a call, the words that triggered each, and the threat level: one rule per tactic, and no
tactic on the plain inquiries of the training corpus."""
import csv
from pathlib import Path

import pytest

from ivr.triage.tactics import CUES, assess, heard, threat_level

CORPUS = Path(__file__).resolve().parents[2] / "training" / "data" / "corpus.csv"
# The only inquiry in the corpus with a tactic: the caller reports a real request for an OTP (a true finding).
REPORTED_REQUEST = "the bank is asking me to share an otp to unfreeze my account is that genuine"


@pytest.mark.parametrize("tactic, text, words", [
    ("threats", "he said he will kill me if i call the police", ["kill me"]),
    ("threats", "my husband is threatening us with a knife", ["threatening", "with a knife"]),
    ("threats", "pay now or else you will regret it", ["or else", "you will regret"]),
    ("fear", "i am so scared please help", ["i am so scared", "please help"]),
    ("fear", "we are hiding in the bathroom", ["hiding"]),
    ("urgency", "send an ambulance immediately", ["immediately"]),
    ("urgency", "please come fast he is bleeding right now", ["please come fast", "bleeding right now"]),
    ("money", "they want me to transfer money to a new account", ["transfer money"]),
    ("money", "congratulations you have won a lottery", ["you have won", "lottery"]),
    ("impersonation", "this is the cbi your parcel has drugs", ["this is the cbi", "parcel has drugs"]),
    ("impersonation", "a man posing as a police officer stopped me", ["posing as"]),
    ("pressure", "do not tell anyone about this call and do not hang up", ["do not tell anyone", "do not hang up"]),
    ("pressure", "this is your last chance", ["last chance"]),
    ("personal_details", "give me your card number to verify", ["give me your card number"]),
    ("personal_details", "read out the otp you just got", ["otp"]),
])
def test_each_tactic_names_the_words_that_triggered_it(tactic, text, words):
    found = {finding.tactic: finding for finding in heard(text)}
    assert tactic in found
    assert list(found[tactic].words) == words
    assert found[tactic].meaning == CUES[tactic][1]


@pytest.mark.parametrize("text", [
    "which number do i call for missing persons it is not urgent",
    "how do i link my aadhaar to my ration card",
    "how do i press charges against the driver who hit my car last week",
    "is there a curfew in our district right now",
    "what is the fee for a police clearance certificate",
    "",
    None,
])
def test_plain_inquiries_show_no_tactic(text):
    assert heard(text) == []
    assert assess(text)["threat"] == {"level": "none", "why": "no tactic heard"}


def test_the_corpus_inquiries_show_no_false_tactic():
    with CORPUS.open(newline="") as handle:
        inquiries = [row["text"] for row in csv.DictReader(handle) if row["label"] == "inquiry"]
    flagged = [text for text in inquiries if heard(text)]
    assert len(inquiries) > 500
    assert flagged == [REPORTED_REQUEST]
    assert [f.tactic for f in heard(REPORTED_REQUEST)] == ["personal_details"]


@pytest.mark.parametrize("text, level", [
    ("hello i want to know the timings of the passport office", "none"),
    ("please come quickly", "low"),
    ("he is threatening my family", "medium"),
    ("i am terrified he has a gun and says he will kill us come immediately", "high"),
])
def test_threat_level_adds_up_the_tactics_and_says_how(text, level):
    findings = heard(text)
    got, why = threat_level(findings)
    assert got == level
    if findings:
        assert why.endswith(f"= {sum(CUES[f.tactic][0] for f in findings)}")
        assert all(f.tactic in why for f in findings)


@pytest.mark.parametrize("text", ["\x00\xff" * 100, "kill me " * 5000, "<script>alert(1)</script>", 12])
def test_odd_transcripts_never_crash(text):
    result = assess(text)
    assert set(result) == {"tactics", "threat"}
