"""The words every stage shares, as data: the caller classes, where a call goes, the flags a call carries, and
who is served first.

Routes and flags are stored as these values (`calls.decision`, the keys of `calls.flags`); reasons stay
free text for operators and are never parsed back into either.
"""
from enum import IntEnum, StrEnum

LABELS = ("emergency", "inquiry", "complaint", "spam")


class Route(StrEnum):
    """Where a call went: one of the desks, or how the system ended it."""
    EMERGENCY = "emergency"
    INQUIRY = "inquiry"
    COMPLAINT = "complaint"
    OPERATOR = "operator"
    HANGUP = "hangup"      # history only: ended on a spam reading by versions before that was ruled out
    BLANK = "blank"        # no speech and no key after the silent-caller prompt
    REJECT = "reject"      # the spam list or a policy block: never answered

    @property
    def is_desk(self):
        return self in DESKS


DESKS = (Route.EMERGENCY, Route.INQUIRY, Route.COMPLAINT, Route.OPERATOR)
ENDINGS = (Route.HANGUP, Route.BLANK, Route.REJECT)


class Flag(StrEnum):
    """Something about a call an operator should see, set by the code that notices it."""
    SPAM_LIST = "spam-list"
    BLOCKED = "blocked"
    CALLER_ID = "caller-id"            # withheld, invalid or unusual number type
    SPOOF_RISK = "spoof-risk"          # our own line or a short code as caller ID, failed STIR/SHAKEN
    REPEAT_CALLER = "repeat-caller"
    WATCH_LIST = "watch-list"
    FLOOD = "flood"
    GATE = "gate"
    ROBOCALL = "robocall"              # the same recording as another number's call
    NUMBER_RANGE = "number-range"      # one of several numbers from one range calling the line within a minute
    SAME_RECORDING = "same-recording"  # the same recording as this number's earlier call
    FAX_TONE = "fax-tone"
    MODEM_TONE = "modem-tone"
    TALK_OVER = "talk-over"
    SILENT_CALLER = "silent-caller"
    SUSPECTED_PRANK = "suspected-prank"
    SPAM_READING = "spam-reading"      # no key, and the words read as spam: a human decides, at low priority
    BLANK = "blank"
    SPEECH_SHED = "speech-shed"        # overload: the caller's words were not (or no longer) recognised; keypad routes


class Priority(IntEnum):
    """Who is served first, in the hold queue and at the callback desk: lower first, then longest wait."""
    EMERGENCY = 0      # decided or read as an emergency, or a caller who pressed 5 because they cannot speak
    CALLER = 1         # any other caller who was decided (and waited, or never reached a desk)
    UNDECIDED = 2      # callback desk only: dropped before a decision, or a blank call
    SPAM_READING = 3   # the words read as spam: a human still answers, after everyone else


class AlertKind(StrEnum):
    """What an alert on a dialled line is about (`flood_alerts.kind`)."""
    FLOOD = "flood"                # distinct callers far above the line's normal rate
    CAMPAIGN = "campaign"          # many numbers playing the same recording
    NUMBER_RANGE = "number-range"  # consecutive numbers from one range
    BLANK_BURST = "blank-burst"    # short blank calls far above the line's normal rate
