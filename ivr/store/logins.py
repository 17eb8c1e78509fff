"""The sign-in throttle: attempts counted per address and name and per address, never per name alone, so
parallel guesses cannot all pass the limit and nobody elsewhere can lock an operator out."""
from sqlalchemy import case, delete, update

from ivr.store import upsert
from ivr.store.models import LoginAttempt, utcnow


def keys(name, address):
    """The throttle's keys for a sign-in: (address and name, address alone); addresses hold no space."""
    return f"{address} {name}"[:128], address[:128]


def claim(db, pair, address, window):
    """Count one more attempt on PAIR and on ADDRESS; return both counts after it, each within WINDOW."""
    # one upsert per key: atomic on SQLite (the write lock) and on PostgreSQL (ON CONFLICT locks the row), so
    # of 30 parallel guesses each sees its own count; a window older than WINDOW starts again at 1
    now, table = utcnow(), LoginAttempt.__table__
    fresh = table.c.window_start >= now - window
    counts = {}
    with db.session() as session:
        for key in sorted((pair, address)):     # one order in every transaction: two claims cannot deadlock
            statement = upsert(session, LoginAttempt).values(key=key, attempts=1, window_start=now)
            statement = statement.on_conflict_do_update(index_elements=["key"], set_={
                "attempts": case((fresh, table.c.attempts + 1), else_=1),
                "window_start": case((fresh, table.c.window_start), else_=now)}).returning(table.c.attempts)
            counts[key] = session.scalar(statement)
    return counts[pair], counts[address]


def forgive(db, pair, address, window):
    """After a good password: the pair starts afresh, its claim leaves the address's count, stale rows go."""
    with db.session() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == pair))
        session.execute(update(LoginAttempt).where(LoginAttempt.key == address, LoginAttempt.attempts > 0)
                        .values(attempts=LoginAttempt.attempts - 1))
        session.execute(delete(LoginAttempt).where(LoginAttempt.window_start < utcnow() - window))
