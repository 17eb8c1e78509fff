"""A dialled line's normal call rate, counted from the calls table and cached per line per process."""
import threading
import weakref
from datetime import timedelta

from sqlalchemy import bindparam, func, select

from ivr.store.models import Call

RECENT = (timedelta(minutes=10), timedelta(hours=1))
SAME_TIME = timedelta(minutes=30)     # on earlier days: the hour around this time of day
MAX_LINES = 1000                      # lines cached per process (a control room has a handful)

_COUNT = select(func.count()).select_from(Call).where(
    Call.to_number == bindparam("line"), Call.created_at >= bindparam("start"), Call.created_at < bindparam("end"))
_cache, _lock = weakref.WeakKeyDictionary(), threading.Lock()   # per Database: {line: (computed at, rate)}


def spans(end, days):
    """The samples of normal traffic: the last 10 minutes, the last hour, and this hour of each of `days` days."""
    recent = [(end - span, end) for span in RECENT]
    return recent + [(end - timedelta(days=day) - SAME_TIME, end - timedelta(days=day) + SAME_TIME)
                     for day in range(1, days + 1)]


def rate(db, line, now, skip_seconds, days, ttl):
    """The line's normal calls per second (the busiest sample; 0.0 for a new line), up to `ttl` seconds old.

    The samples end `skip_seconds` before `now`, so the window being judged is never its own baseline."""
    cached = _cached(db, line, now, ttl)
    if cached is not None:
        return cached
    end = now - timedelta(seconds=skip_seconds)
    with db.read_engine.connect() as conn:
        found = max(conn.execute(_COUNT, {"line": line, "start": start, "end": stop}).scalar()
                    / (stop - start).total_seconds() for start, stop in spans(end, days))
    with _lock:
        lines = _cache.setdefault(db, {})
        if len(lines) >= MAX_LINES:
            lines.clear()
        lines[line] = (now, found)
    return found


def _cached(db, line, now, ttl):
    with _lock:
        hit = _cache.get(db, {}).get(line)
    if hit is not None and timedelta(0) <= now - hit[0] < timedelta(seconds=ttl):
        return hit[1]
    return None


def forget(db):
    """Drop this process's cached rates for DB (tests, and after bulk imports)."""
    with _lock:
        _cache.pop(db, None)
