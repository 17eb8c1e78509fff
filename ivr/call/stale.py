"""Open calls whose final status callback never landed (it got a 500 during a database outage): ask Twilio
how each ended and settle it as the status callback would have."""
import logging
from datetime import timedelta
from enum import Enum

from ivr.call import flow
from ivr.call.routing import RoutingError, TwilioUnreachable
from ivr.store import calls
from ivr.store.models import utcnow

log = logging.getLogger(__name__)

UNKNOWN_REASON = "closed by reconcile: Twilio does not know this call"


class Outcome(Enum):
    """What reconciling one call did."""
    CLOSED = "closed"        # Twilio's final status recorded, callbacks queued as the status callback would
    LIVE = "live"            # Twilio says it is still going: left alone
    UNKNOWN = "unknown"      # Twilio has no such call (404): closed as failed, with a reason
    ERROR = "error"          # Twilio answered with an error for this call: left for the next run


def stale_calls(db, older_than_minutes, limit):
    """Sids of calls still open that arrived more than OLDER_THAN_MINUTES ago (oldest first, at most LIMIT)."""
    return calls.stale_open(db, utcnow() - timedelta(minutes=older_than_minutes), limit)


def reconcile(db, live, sid):
    """Settle one open call from Twilio's record of it: (Outcome, detail). TwilioUnreachable propagates."""
    try:
        known = live.fetch(sid)
    except TwilioUnreachable:
        raise
    except RoutingError as error:
        return Outcome.ERROR, str(error)
    if known is None:
        _close(db, sid, "failed", None, UNKNOWN_REASON)
        return Outcome.UNKNOWN, "failed (Twilio: 404)"
    status, duration = known
    if status not in calls.FINAL_STATUSES:
        return Outcome.LIVE, status
    _close(db, sid, status, duration)
    return Outcome.CLOSED, status if duration is None else f"{status} {duration} s"


def _close(db, sid, status, duration, reason=None):
    call = calls.close_call(db, sid, status, duration, end_stream=True, reason=reason)
    if call is not None:
        log.info("reconciled %s: %s", sid, call.status)
        flow.after_status(db, call)
