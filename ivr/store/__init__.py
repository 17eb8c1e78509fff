"""Database access: one engine per app, short sessions, typed models and the queries that use them."""
import fcntl
import os
import sqlite3
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from flask import current_app
from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker


class Database:
    """Engine and session factory bound to an app's DATABASE_URL (usable outside requests too)."""

    def __init__(self):
        self.engine = None          # writes (on SQLite: BEGIN IMMEDIATE, behind the writer queue)
        self.read_engine = None     # reads that must not take SQLite's write lock (the same engine elsewhere)
        self._sessions = None
        self._readers = None
        self._writers = nullcontext()

    def configure(self, url, deadline=None):
        """Bind to URL. With DEADLINE (seconds) no statement, lock wait, write turn or pooled connection waits
        longer, so a stalled database fails fast and the caller's webhook still answers (with the operator)."""
        url = normalise_url(url)
        if url.startswith("sqlite:///"):
            wait = deadline or 15.0
            self.engine = _sqlite_engine(url, wait)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
            self.read_engine = _sqlite_engine(url, wait)
            self._readers = sessionmaker(self.read_engine, expire_on_commit=False)
            path = sqlite_file(url)
            if path:
                self._writers = WriterQueue(f"{path}.writer-lock", wait)
        else:
            limits = {"pool_timeout": deadline, "connect_args": {"connect_timeout": max(1, round(deadline))}} \
                if deadline else {}
            self.engine = self.read_engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                                                           **limits)
            if deadline:
                event.listen(self.engine, "connect", _postgresql_timeouts(deadline))
            self._sessions = self._readers = sessionmaker(self.engine, expire_on_commit=False)
        return self

    @contextmanager
    def session(self):
        """A session that commits on success and rolls back on error."""
        with self._writers:
            session = self._sessions()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def reader(self):
        """A read-only session: on SQLite it reads the last committed state without taking the write lock."""
        session = self._readers()
        try:
            yield session
        finally:
            session.close()   # ends the read transaction; loaded objects stay readable

    def dispose(self):
        """Close every pooled connection (tests, and forked workers before they start)."""
        for factory in {self._sessions, self._readers}:
            factory.kw["bind"].dispose()

    def ping(self):
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def probe(self):
        """How the database is: "ok" when it answers a read and grants a write on the calls table within the
        deadline, else "stalled", "read-only" or "error: …" (for /health and load balancers)."""
        try:
            self.ping()
            with self.session() as session:
                if session.get_bind().dialect.name == "postgresql":
                    if session.execute(text("SHOW transaction_read_only")).scalar() == "on":
                        return "read-only"
                    session.execute(text("LOCK TABLE calls IN ROW EXCLUSIVE MODE"))   # waits at most lock_timeout
                else:
                    session.execute(text("DELETE FROM calls WHERE 0"))      # a write statement, writing nothing
        except Exception as error:  # noqa: BLE001 - the probe reports, it does not raise
            return _describe(error)
        return "ok"


class WriterQueue:
    """SQLite allows one writer at a time, and a writer that finds the lock taken sleeps in steps of up to
    100 ms before it looks again: under load a webhook could sleep through many commits (p99 0.8 s on /voice).
    Writers here queue instead, on a thread lock within the process and an flock(2) on a file beside the
    database across processes; both wake the next writer the moment the lock is free. Re-entrant per thread,
    so a write session opened inside another one on the same thread does not wait for itself."""

    def __init__(self, path, timeout=15.0):
        self.path, self.timeout = path, timeout    # at most this long for a write turn (a stalled writer)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._fd = None

    def __enter__(self):
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            deadline = time.monotonic() + self.timeout      # one deadline for both turns, in and across processes
            if not self._lock.acquire(timeout=self.timeout):   # as SQLite's own busy timeout would
                raise sqlite3.OperationalError(f"database is locked: no write turn in {self.timeout:.0f} s")
            try:   # opened per transaction: nothing to leak, and nothing shared with a forked child
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._flock(deadline)
            except BaseException:
                self._release()
                raise
        self._local.depth = depth + 1
        return self

    def _flock(self, deadline):
        """The cross-process turn, waited for at most until DEADLINE (flock itself has no timeout)."""
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError(
                        f"database is locked: no write turn in {self.timeout:.0f} s (another process)") from None
                time.sleep(0.002)

    def __exit__(self, *_exc):
        self._local.depth -= 1
        if self._local.depth == 0:
            self._release()

    def _release(self):
        if self._fd is not None:
            os.close(self._fd)   # closing the only descriptor drops the flock
            self._fd = None
        self._lock.release()


def upsert(session, model):
    """INSERT with ON CONFLICT support for the session's database (SQLite or PostgreSQL)."""
    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[session.get_bind().dialect.name](model)


def normalise_url(url):
    """Point postgres:// URLs (Heroku style) at psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def sqlite_file(url):
    """The file of a SQLite URL (None for other databases and for an in-memory one)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///").split("?")[0])


def _sqlite_engine(url, timeout):
    engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record):
    # WAL lets readers go on while one thread writes; NORMAL sync is durable in WAL except for the last
    # commits before a power cut, and keeps an fsync off every webhook.
    dbapi_conn.isolation_level = None   # SQLAlchemy's "begin" hook below starts the transactions
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(conn):
    # Our transactions read then write; a deferred one that finds another writer has committed since its
    # read fails at once ("database is locked") instead of waiting. Taking the write lock up front makes
    # SQLite queue them on its busy timeout.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _postgresql_timeouts(deadline):
    """A connect hook: every statement and lock wait on this connection gives up after DEADLINE seconds."""
    milliseconds = int(deadline * 1000)

    def on_connect(dbapi_conn, _record):
        autocommit, dbapi_conn.autocommit = dbapi_conn.autocommit, True
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {milliseconds}")
            cursor.execute(f"SET lock_timeout = {milliseconds}")
        dbapi_conn.autocommit = autocommit

    return on_connect


def _describe(error):
    text_ = str(error).lower()
    if "read-only" in text_ or "readonly" in text_:
        return "read-only"
    if any(sign in text_ for sign in ("lock timeout", "statement timeout", "database is locked", "queuepool limit",
                                      "timeout expired", "timed out")):
        return "stalled"
    return f"error: {type(error).__name__}"


def current_db():
    """The current app's Database (in requests and CLI commands)."""
    return current_app.extensions["ivr.db"]


def init_app(app):
    """Give the app its own Database (app.extensions["ivr.db"]) for DATABASE_URL."""
    app.extensions["ivr.db"] = Database().configure(app.config["DATABASE_URL"], app.config["DATABASE_DEADLINE_SECONDS"])
