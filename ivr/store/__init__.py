"""Database access: one engine per app, short sessions, typed models and the queries that use them."""
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker


class Database:
    """Engine and session factory bound to an app's DATABASE_URL (usable outside requests too)."""

    def __init__(self):
        self.engine = None
        self._sessions = None
        self._readers = None

    def configure(self, url):
        url = normalise_url(url)
        if url.startswith("sqlite:///"):
            self.engine = _sqlite_engine(url)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
            self._readers = sessionmaker(_sqlite_engine(url), expire_on_commit=False)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self._sessions = self._readers = sessionmaker(self.engine, expire_on_commit=False)
        return self

    @contextmanager
    def session(self):
        """A session that commits on success and rolls back on error."""
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


def upsert(session, model):
    """INSERT with ON CONFLICT support for the session's database (SQLite or PostgreSQL)."""
    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[session.get_bind().dialect.name](model)


def normalise_url(url):
    """Point postgres:// URLs (Heroku style) at psycopg 3; make the folder of a SQLite file exist."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///").split("?")[0]).parent.mkdir(parents=True, exist_ok=True)
    return url


def _sqlite_engine(url):
    engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False})
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


def init_app(app):
    """Give the app its own Database (app.extensions["ivr.db"]) for DATABASE_URL."""
    app.extensions["ivr.db"] = Database().configure(app.config["DATABASE_URL"])
