"""Screening thresholds an operator changes at run time, read by every process through a short cache."""
import threading
import time
import weakref

from sqlalchemy import delete, select

from ivr.store.models import ScreenSetting, utcnow

TUNABLE = {"SCREEN_FLOOD_CALLERS": int, "SCREEN_FLOOD_SECONDS": float, "SCREEN_FLOOD_COOLDOWN": float,
           "SCREEN_FLOOD_EXIT_CALLERS": int, "SCREEN_FLOOD_FACTOR": float, "SCREEN_FLOOD_SIGMAS": float,
           "SCREEN_CAMPAIGN_NUMBERS": int, "SCREEN_RANGE_NUMBERS": int}
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


def put(db, key, value, by):
    """Set one override (this process sees it at once, the others within their cache time)."""
    with db.session() as session:
        setting = session.get(ScreenSetting, key) or ScreenSetting(key=key)
        setting.value, setting.updated_by, setting.updated_at = value, by[:64], utcnow()
        session.add(setting)
    _forget(db)


def clear(db, key):
    with db.session() as session:
        removed = session.execute(delete(ScreenSetting).where(ScreenSetting.key == key)).rowcount
    _forget(db)
    return removed > 0


def all_settings(db):
    with db.reader() as session:
        return list(session.scalars(select(ScreenSetting).order_by(ScreenSetting.key)))


def _forget(db):
    with _lock:
        _cache.pop(db, None)
