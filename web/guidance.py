"""What the operator should ask and do, per kind of call (shown on the call's page)."""

GUIDANCE = {
    "emergency": ("Emergency", [
        "Confirm the exact location: address, landmark, floor; ask the caller to stay on the line.",
        "Ask what is happening now: weapons, injuries, fire, how many people.",
        "Dispatch the nearest unit before finishing the questions; note the caller's number for a call-back.",
    ]),
    "inquiry": ("Inquiry", [
        "Ask for the reference number (application, FIR, passport) and the caller's name.",
        "Answer from the station directory or give the desk's number; no dispatch needed.",
    ]),
    "complaint": ("Complaint", [
        "Take the caller's name, address and what happened, when and where.",
        "Give the complaint reference and say which station will follow up.",
        "If anyone is in danger now, treat it as an emergency.",
    ]),
    "spam": ("Likely spam or prank", [
        "Listen for a real caller before ending: a distressed caller may sound like a prank.",
        "If it is a robocall or a repeated prank, add the number to the spam list with the reason.",
    ]),
    "blank": ("Blank or silent call", [
        "A silent caller may be unable to speak: call back if the number is valid and the policy allows.",
        "If the line is open, listen for background sounds and ask the caller to press a key.",
    ]),
    None: ("Not yet classified", [
        "Ask what has happened and where; decide the desk yourself.",
    ]),
}


def guidance_for(call):
    """Title and steps for this call: an operator's correction wins over the classifier."""
    kind = call.operator_label or ("blank" if call.decision == "blank" else call.label)
    return GUIDANCE.get(kind, GUIDANCE[None])
