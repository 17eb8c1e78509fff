"""The reconcile rules: keypad digit + transcript reading + screening risk -> where the call goes."""
from dataclasses import dataclass, field

from ivr.vocabulary import Flag, Route


@dataclass(frozen=True)
class Thresholds:
    emergency: float = 0.80    # route to the emergency desk whatever was pressed (and at once, mid-call)
    confident: float = 0.60    # below this a reading counts as "no class"
    risk: float = 0.70         # screening risk at which desk routes without a key go to the operator

    @classmethod
    def from_config(cls, config):
        return cls(config["TRIAGE_EMERGENCY_THRESHOLD"], config["TRIAGE_CONFIDENT_THRESHOLD"])


@dataclass(frozen=True)
class Decision:
    route: Route
    reasons: tuple = ()
    flags: dict = field(default_factory=dict)     # Flag -> the reason it was raised


KEYPAD = {"1": Route.EMERGENCY, "2": Route.INQUIRY, "3": Route.COMPLAINT, "5": "silent"}


def reconcile(digit, reading, thresholds, risk=0.0, faults=()):
    """Decide where a call goes from keypad digit + transcript reading + screening risk.

    | digit      | reading                                   | route                                   |
    |------------|-------------------------------------------|-----------------------------------------|
    | any        | a fault happened during the call          | operator                                |
    | any        | emergency >= emergency threshold          | emergency                               |
    | 5          | any                                       | operator, flagged silent caller         |
    | 1          | spam >= confident                         | operator, flagged suspected prank       |
    | 1          | anything else                             | emergency                               |
    | 2 or 3     | none / not confident / same class         | inquiry or complaint desk               |
    | 2 or 3     | another class, confident                  | operator, both readings shown           |
    | none/other | emergency, inquiry, complaint >= confident| that desk (inquiry/complaint: operator when risk >= risk threshold) |
    | none/other | spam >= confident                         | operator, flagged spam reading (never a hang-up) |
    | none/other | anything else                             | operator                                |
    """
    key = KEYPAD.get(digit or "")
    reasons = [f"keypad: {digit}" if digit else "keypad: none", reading.reason]
    # An emergency reading already passed the model's recall-tuned cut: it is never discarded as unsure.
    sure = reading.confidence >= thresholds.confident or reading.label == "emergency"
    label = reading.label if reading.label and sure else None
    if faults:
        return Decision(Route.OPERATOR, tuple(reasons + [f"fault: {f}" for f in faults]))
    if reading.label == "emergency" and reading.confidence >= thresholds.emergency:
        return Decision(Route.EMERGENCY, tuple(reasons))
    if key == "silent":
        return Decision(Route.OPERATOR, tuple(reasons), {Flag.SILENT_CALLER: "keypad: 5"})
    if key == Route.EMERGENCY:
        if label == "spam":
            return Decision(Route.OPERATOR, tuple(reasons),
                            {Flag.SUSPECTED_PRANK: f"keypad: 1 but {reading.reason}"})
        return Decision(Route.EMERGENCY, tuple(reasons))
    if key in (Route.INQUIRY, Route.COMPLAINT):
        if label in (None, key):
            return Decision(key, tuple(reasons))
        return Decision(Route.OPERATOR,
                        tuple(reasons + [f"disagreement: keypad says {key}, transcript says {label}"]))
    return _without_key(label, reading, thresholds, risk, reasons)


def _without_key(label, reading, thresholds, risk, reasons):
    if label == "emergency":
        return Decision(Route.EMERGENCY, tuple(reasons))
    if label in ("inquiry", "complaint"):
        if risk >= thresholds.risk:
            return Decision(Route.OPERATOR, tuple(reasons + [f"screening: risk {risk:.2f}"]))
        return Decision(Route(label), tuple(reasons))
    if label == "spam":     # a reading of an 8 kHz transcript never ends a call to the police: a human decides
        return Decision(Route.OPERATOR, tuple(reasons), {Flag.SPAM_READING: f"keypad: none and {reading.reason}"})
    return Decision(Route.OPERATOR, tuple(reasons))
