"""The per-call credential of a media stream: an HMAC of the CallSid, sent in the TwiML's <Parameter>.

Twilio's signature on the WebSocket upgrade covers the URL only, not the <Parameter> values, so without this
whoever holds one signed upgrade could start a stream for any call.
"""
import hashlib
import hmac

PARAMETER = "token"
_LABEL = b"ivr media-stream token v1\0"


def stream_key(secret_key, auth_token):
    """The HMAC key: both SECRET_KEY and TWILIO_AUTH_TOKEN, so a forger needs both of them."""
    return hmac.new(secret_key.encode(), _LABEL + auth_token.encode(), hashlib.sha256).digest()


def token_for(key, sid):
    """The token that lets a stream start for call `sid`."""
    return hmac.new(key, sid.encode(), hashlib.sha256).hexdigest()


def token_matches(key, sid, token):
    """True when `token` (anything a frame carried) is the token of call `sid`; compared in constant time."""
    if not isinstance(token, str) or not token.isascii() or not sid.isascii():
        return False
    return hmac.compare_digest(token_for(key, sid), token)
