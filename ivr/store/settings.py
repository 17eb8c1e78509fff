"""Screening thresholds an operator changes at run time, read by every process through a short cache."""
import threading
import time
import weakref

from sqlalchemy import delete, select

from ivr.store import audit
from ivr.store.models import ScreenSetting, utcnow

# key -> (type, lowest, highest, what it means): the CLI, the settings page and the API check against these
LIMITS = {
    "SCREEN_FLOOD_CALLERS": (int, 2, 10_000, "distinct callers that make a flood on a new line (the floor)"),
    "SCREEN_FLOOD_SECONDS": (float, 0.5, 3600, "the flood window, in seconds"),
    "SCREEN_FLOOD_COOLDOWN": (float, 0, 86_400, "seconds between alerts of one kind on one line"),
    "SCREEN_FLOOD_EXIT_CALLERS": (int, 1, 10_000, "while the alert is open, flood mode lasts down to this many"),
    "SCREEN_FLOOD_FACTOR": (float, 1.0, 100, "a flood is this many times the line's normal ..."),
    "SCREEN_FLOOD_SIGMAS": (float, 1.0, 50, "... plus this many standard deviations of chance"),
    "SCREEN_CAMPAIGN_NUMBERS": (int, 2, 10_000, "numbers playing one recording that make a campaign"),
    "SCREEN_RANGE_NUMBERS": (int, 2, 10_000, "numbers of one range on a line that flag a range"),
    "SCREEN_BLANK_WATCH": (int, 1, 1000, "blank calls in a day that put a number on the watch-list"),
    "SCREEN_BLANK_BLOCK": (int, 1, 1000, "blank calls in a day that block a number for a while"),
    "SCREEN_BLANK_BURST_CALLS": (int, 2, 100_000, "short blank calls on a line that raise a blank-burst alert"),
    "SCREEN_BLANK_BURST_SECONDS": (float, 10, 86_400, "the blank-burst window, in seconds"),
}
TUNABLE = {key: kind for key, (kind, *_rest) in LIMITS.items()}


def check(key, value):
    """VALUE as KEY's type when it is within KEY's limits; raises ValueError with a message naming the fix."""
    if key not in LIMITS:
        raise ValueError(f"{key!r} cannot be changed at run time; one of: {', '.join(LIMITS)}")
    kind, low, high, _what = LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{key} must be a number from {low:g} to {high:g}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{key} must be a number from {low:g} to {high:g}, not {str(value)[:20]!r}") from None
    if kind is int and number != int(number) or not low <= number <= high:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{key} must be {what} from {low:g} to {high:g}, not {str(value)[:20]}")
    return kind(number)
_cache, _lock = weakref.WeakKeyDictionary(), threading.Lock()   # per Database: (expires, values)


def overrides(db, ttl):
    """Current overrides as {KEY: value}; re-read from the database at most every `ttl` seconds per process."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(db)
        if cached is not None and cached[0] > now:
            return cached[1]
    with db.read_engine.connect() as conn:
        values = {key: TUNABLE[key](value) for key, value in conn.execute(select(ScreenSetting.key, ScreenSetting.value))
                  if key in TUNABLE}
    with _lock:
        _cache[db] = (now + ttl, values)
    return values


def put(db, key, value, by, operator_id=None):
    """Set one override, audited (this process sees it at once, the others within their cache time)."""
    with db.session() as session:
        setting = session.get(ScreenSetting, key) or ScreenSetting(key=key)
        before = None if setting.value is None else {"value": setting.value}
        setting.value, setting.updated_by, setting.updated_at = value, by[:64], utcnow()
        session.add(setting)
        audit.record(session, by, "settings.put", key, before, {"value": value}, operator_id)
    _forget(db)


def clear(db, key, by="cli", operator_id=None):
    """Drop KEY's override (back to the environment's value), audited; True when there was one."""
    with db.session() as session:
        old = session.get(ScreenSetting, key)
        removed = session.execute(delete(ScreenSetting).where(ScreenSetting.key == key)).rowcount
        if removed:
            audit.record(session, by, "settings.clear", key, {"value": old.value}, None, operator_id)
    _forget(db)
    return removed > 0


def in_force(db, config, ttl=0.0):
    """config with the run-time overrides on top (ttl 0: read now)."""
    return {**config, **overrides(db, ttl)}


def all_settings(db):
    with db.reader() as session:
        return list(session.scalars(select(ScreenSetting).order_by(ScreenSetting.key)))


def _forget(db):
    with _lock:
        _cache.pop(db, None)
