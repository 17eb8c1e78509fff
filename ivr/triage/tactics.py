"""Tactics heard in a call and a threat level, by rules an operator can check: each tactic is a list of cue
phrases (regular expressions over the lower-case transcript), and a finding names the words that triggered it.

On an emergency line a tactic is either the caller's situation (someone threatens them, they are afraid) or a
sign of a scam or a prank being run on or through the line (impersonation, money, requests for personal
details). Cues are phrases, not single common words, so a plain question ("how do I link my aadhaar") shows none:
tests/triage/test_tactics.py measures that on the training corpus's inquiries.
"""
import re
from dataclasses import dataclass

MAX_CHARS = 20_000      # transcripts are bounded upstream; this bounds the regex work per call
PEOPLE = (r"(?:wife|husband|son|daughter|mother|father|brother|sister|child|children|baby|family|friend|neighbour|"
          r"neighbor|mom|dad|boss|grandmother|grandfather)")
OBJECTS = rf"(?:me|us|him|her|them|you|(?:my|our|his|her|their|your) {PEOPLE})"
NEGATIONS = {"not", "no", "isn't", "never", "without"}   # "it is not urgent" is no urgency
DETAILS = (r"(?:otp|pin|cvv|password|aadhaar(?: number| card)?|pan(?: card| number)|card number|account number|"
           r"bank details|date of birth|verification code|one time password)")

# tactic -> (weight towards the threat level, what it means, cue patterns)
CUES = {
    "threats": (3, "someone threatens harm", (
        rf"\b(?:kill|murder|shoot|stab|kidnap|burn|beat|hit|hurt|attack|rape) {OBJECTS}\b",
        r"\b(?:threaten(?:ed|ing|s)?|threats? (?:to|of|from))\b",
        r"\b(?:with|has|have|had) an? (?:gun|knife|pistol|sword|acid|bomb)\b",
        r"\b(?:gun|knife|pistol|bomb) (?:to|at|on) (?:my|his|her|our|your)\b",
        r"\byou will (?:die|regret|pay for)\b", r"\bor else\b", r"\b(?:arrest|jail) you\b",
        r"\b(?:going|gonna) to (?:kill|hurt|beat|shoot)\b")),
    "fear": (2, "the caller is afraid", (
        r"\b(?:i am|i'm|we are|we're|she is|she's|he is|he's|they are) (?:so |very |really )?"
        r"(?:scared|afraid|frightened|terrified)\b",
        r"\b(?:save me|save us|help me|please help)\b", r"\b(?:hiding|screaming|crying for help)\b",
        r"\bgoing to die\b", r"\bdon't know what to do\b")),
    "urgency": (1, "it has to happen now", (
        r"\b(?:immediately|hurry up|please hurry|hurry please|at once|urgent(?:ly)?|as soon as possible|asap)\b",
        r"\b(?:come|send|help|need|needs|happening|dying|bleeding) (?:\w+ )?right now\b",
        r"\b(?:come|send|please) (?:\w+ )?(?:fast|quickly|quick)\b", r"\bbefore it(?:'s| is) too late\b")),
    "pressure": (1, "pressure to act or keep quiet", (
        r"\b(?:don't|do not) (?:tell|inform) (?:anyone|anybody|the police|your family)\b",
        r"\bkeep (?:this|it) (?:secret|quiet|between us)\b",
        r"\b(?:don't|do not) (?:hang up|disconnect|cut the call)\b",
        r"\b(?:last chance|only today|within (?:one|two|\d+) hours?|no other (?:choice|option))\b",
        r"\bif you (?:don't|do not) (?:pay|send|do)\b")),
    "money": (1, "a demand or transfer of money", (
        r"\b(?:send|transfer|pay|deposit|give) (?:\w+ )?(?:money|cash|rupees|lakh|lakhs|crore|amount|payment)\b",
        r"\b(?:ransom|bribe|extort(?:ion|ing|ed)?|gift cards?|bitcoin|crypto(?:currency)?)\b",
        r"\b(?:lottery|you have won|won a prize|prize money|processing fee|registration fee to claim)\b",
        r"\b(?:upi|paytm|google pay|phonepe) (?:id|number|transfer|payment)\b")),
    "impersonation": (1, "someone claims an office to be believed", (
        r"\b(?:this is|i am|i'm|we are|calling from|call(?:ed|ing)? from|claim(?:ed|ing|s)? to be(?: from)?) "
        r"(?:the |an? )?"
        r"(?:cbi|customs|income tax|narcotics|trai|rbi|reserve bank|cyber (?:cell|crime)|crime branch|"
        r"bank manager|bank officer|police officer|inspector|fedex|courier company|telecom department)\b",
        r"\b(?:pretend(?:ed|ing|s)? to be|posing as|fake (?:police|officer|inspector|cbi|bank))\b",
        r"\b(?:digital arrest|parcel (?:with|has|containing) drugs)\b")),
    "personal_details": (1, "a request for personal details", (
        rf"\b(?:give|tell|share|send|read|confirm|verify|asked for|asking for|wants?) (?:me |us |him |them )?"
        rf"(?:your|my|the) {DETAILS}\b",
        r"\b(?:otp|cvv|one time password|verification code)\b")),
}
PATTERNS = {tactic: [re.compile(cue) for cue in cues] for tactic, (_, _, cues) in CUES.items()}
LEVELS = ((5, "high"), (3, "medium"), (1, "low"), (0, "none"))


@dataclass(frozen=True)
class Finding:
    """One tactic heard: the words that triggered it and what it means."""
    tactic: str
    words: tuple
    meaning: str

    def as_dict(self):
        return {"tactic": self.tactic, "words": list(self.words), "meaning": self.meaning}


def heard(text):
    """The tactics in TEXT, in the order of CUES, each with its triggering words in the order said."""
    text = re.sub(r"[^a-z0-9' ]", " ", str(text or "").lower()[:MAX_CHARS])
    text = re.sub(r"\s+", " ", text)
    found = []
    for tactic, patterns in PATTERNS.items():
        matches = sorted((match.start(), match.group(0)) for pattern in patterns for match in pattern.finditer(text)
                         if not NEGATIONS & set(text[:match.start()].split()[-2:]))
        if matches:
            found.append(Finding(tactic, tuple(dict.fromkeys(word for _, word in matches)), CUES[tactic][1]))
    return found


def threat_level(findings):
    """(level, why): none/low/medium/high from the weights of the tactics heard, and the sum that made it."""
    score = sum(CUES[finding.tactic][0] for finding in findings)
    level = next(name for floor, name in LEVELS if score >= floor)
    parts = " + ".join(f"{finding.tactic} {CUES[finding.tactic][0]}" for finding in findings)
    return level, f"{parts} = {score}" if findings else "no tactic heard"


def assess(text):
    """{'tactics': [...], 'threat': {'level', 'why'}} for TEXT: what the page, the API and the export show."""
    findings = heard(text)
    level, why = threat_level(findings)
    return {"tactics": [finding.as_dict() for finding in findings], "threat": {"level": level, "why": why}}
