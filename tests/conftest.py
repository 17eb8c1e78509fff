"""Fixtures: app, client, runner, signed Twilio posts, a database per test (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), a local stand-in for Twilio's REST API and a live server for end-to-end calls.

The simulated whole calls (tests/e2e/test_calls.py, test_screening_calls.py, test_queue_calls.py,
test_overload_calls.py) run on one backend, ONE_BACKEND: PostgreSQL when TEST_DATABASE_URL is set (what sites
with many callers run), else SQLite. They exercise the call path, not the database; what differs between the
backends is covered on both by the unit and integration tests, and tests/e2e/test_server.py's bin/start call
covers SQLite end to end."""
import atexit
import importlib.util
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from ivr import create_app
from ivr.store import normalise_url, operators, spam
from ivr.store.models import Base
from ivr.tools.simulate import ApiStandIn


TOKEN = "test-auth-token"
SECRET = "test-secret-" + "s" * 32
API_KEY = "k" * 40
ACCOUNT = "AC" + "1" * 32
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
ONE_BACKEND = BACKENDS[-1]
on_one_backend = pytest.mark.parametrize("database_url", [ONE_BACKEND], indirect=True)   # see the docstring


@pytest.fixture(scope="session")
def stand_in():
    """Twilio's REST API as far as live-call updates go (the only outside boundary we stand in for)."""
    server = ApiStandIn(0, ACCOUNT, TOKEN)
    yield server
    server.close()


def _postgresql_url(schema):
    base = normalise_url(os.environ["TEST_DATABASE_URL"])
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


class SchemaPool:
    """PostgreSQL schemas built at head once and reused: building one (create_all, stamp, trigger) and dropping it
    cost ~0.4 s a test, deleting its rows a few ms. A released schema is emptied and reused only if its shape
    (tables, columns, constraints, indexes, triggers, sequences, alembic_version) is still the one recorded when the
    first was built; a test that migrated, downgraded or dropped something leaves it to be dropped instead."""

    LOCK_TIMEOUT = "2s"     # a connection a test leaked holding a lock must not hang the run: the schema is dropped

    def __init__(self):
        self.admin = create_engine(normalise_url(os.environ["TEST_DATABASE_URL"]))
        self.free, self.made, self.pristine = [], set(), None

    def take(self):
        """The name of a schema at head with no rows and its sequences restarted."""
        if self.free:
            return self.free.pop()
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        self.made.add(schema)
        engine = create_engine(_postgresql_url(schema))
        create_schema(engine)
        engine.dispose()
        if self.pristine is None:
            self.pristine = self.shape(schema)
        return schema

    def give_back(self, schema):
        """Empty SCHEMA for the next test, or drop it if a test changed its shape or still holds a lock on it."""
        try:
            with self.admin.begin() as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{self.LOCK_TIMEOUT}'"))
                if self.shape(schema, conn) != self.pristine:
                    raise LookupError(schema)
                conn.execute(text("SET LOCAL session_replication_role = replica"))   # no triggers, no FK checks
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(text(f'DELETE FROM {schema}."{table.name}"'))
                for (sequence,) in conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = :s"),
                                                {"s": schema}):
                    conn.execute(text(f'ALTER SEQUENCE {schema}."{sequence}" RESTART'))
        except (LookupError, DBAPIError):     # a changed shape, a held lock, or a user who may not skip triggers
            self.drop(schema)
            return
        self.free.append(schema)

    def shape(self, schema, conn=None):
        """What makes SCHEMA a fresh one at head, with its name taken out."""
        if conn is None:
            with self.admin.connect() as conn:
                return self.shape(schema, conn)
        queries = [
            "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = :s",
            "SELECT table_name, constraint_name, constraint_type FROM information_schema.table_constraints "
            "WHERE table_schema = :s",
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :s",
            "SELECT event_object_table, trigger_name, event_manipulation, action_timing, action_statement "
            "FROM information_schema.triggers WHERE trigger_schema = :s",
            "SELECT sequencename FROM pg_sequences WHERE schemaname = :s",
        ]
        found = [sorted(tuple(str(value).replace(schema, "<schema>") for value in row)
                        for row in conn.execute(text(query), {"s": schema})) for query in queries]
        tables = {row[0] for row in found[0]}
        version = conn.execute(text(f"SELECT version_num FROM {schema}.alembic_version")).scalars().all() \
            if "alembic_version" in tables else None
        return found, version

    def drop(self, schema):
        """Drop SCHEMA; if a leaked connection still holds it, leave it for the end of the session."""
        try:
            with self.admin.begin() as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{self.LOCK_TIMEOUT}'"))
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        except OperationalError:
            return
        self.made.discard(schema)

    def close(self):
        self.free.clear()
        for schema in list(self.made):
            self.drop(schema)
        self.admin.dispose()


@pytest.fixture(scope="session")
def schema_pool():
    pool = SchemaPool()
    yield pool
    pool.close()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A database at head with no rows: a fresh SQLite file (make_app builds it), or a pooled PostgreSQL schema.
    Tests that apply the migrations themselves take empty_database_url."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    pool = request.getfixturevalue("schema_pool")
    schema = pool.take()
    yield _postgresql_url(schema)
    pool.give_back(schema)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    """A database with no tables at all (an empty SQLite file path, or a new PostgreSQL schema), for the tests that
    migrate it themselves."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(os.environ["TEST_DATABASE_URL"]))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield _postgresql_url(schema)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def make_app(database_url, stand_in, **overrides):
    """The app on DATABASE_URL, with recognition slots of its own (not this machine's), as many as a test's calls
    need unless it sets IVR_RECOGNITION_SLOTS: /voice reserves one per call for RESERVE_SECONDS."""
    slots_dir = tempfile.mkdtemp(prefix="ivr-test-slots-")
    atexit.register(shutil.rmtree, slots_dir, True)
    app = create_app({"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
                      "SECRET_KEY": SECRET,
                      "TWILIO_API_BASE": f"http://127.0.0.1:{stand_in.port}", "ASR_ENGINE": "pocketsphinx",
                      "IVR_DECISION_WAIT_SECONDS": 1.0, "IVR_RECOGNITION_SLOTS": 64,
                      "IVR_RECOGNITION_SLOTS_DIR": slots_dir, **overrides})
    create_schema(app.extensions["ivr.db"].engine)
    return app


def create_schema(engine):
    """The tables from the models (fast), plus the PostgreSQL trigger, whose DDL lives only in its migration, stamped
    as migrated to head (the admin commands check that); tests/store/test_store.py checks that the models and the
    migrations agree. A database already stamped (a second app on it) is left as it is."""
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() is not None:
            return
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        MigrationContext.configure(conn).stamp(ScriptDirectory(str(MIGRATIONS.parent)), "head")
    if engine.dialect.name == "postgresql":
        spec = importlib.util.spec_from_file_location("notify_migration",
                                                      MIGRATIONS / "0005_notify_live_pages_of_call_changes.py")
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        with engine.begin() as conn:
            for statement in migration.CREATE:
                conn.exec_driver_sql(statement)


@pytest.fixture
def app(database_url, stand_in):
    app = make_app(database_url, stand_in)
    yield app
    app.extensions["ivr.changes"].close()
    app.extensions["ivr.db"].dispose()


@pytest.fixture
def db(app):
    return app.extensions["ivr.db"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(app):
    """Requests to the JSON API with the key (API_KEY) set on the app."""
    app.config["IVR_API_KEY"] = API_KEY
    client = app.test_client()

    def request(method, path, **kwargs):
        return client.open(path, method=method, headers={"X-API-Key": API_KEY}, **kwargs)

    return request


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def listed(db, number):
    """The spam-list entry for NUMBER, or None."""
    return next((entry for entry in spam.all_entries(db) if entry.number == number), None)


def sign(url, params, token=TOKEN):
    return RequestValidator(token).compute_signature(url, params)


@pytest.fixture
def twilio_post(client):
    """POST form params the way Twilio does, signed over http://localhost + path (the test client's URL)."""

    def post(path, params=None, signature=None):
        params = {key: value for key, value in (params or {}).items() if value is not None}
        headers = {"X-Twilio-Signature": sign("http://localhost" + path, params) if signature is None else signature}
        return client.post(path, data=params, headers=headers)

    return post


def call_params(sid=None, **extra):
    params = {"CallSid": sid or "CA" + uuid.uuid4().hex, "AccountSid": ACCOUNT, "From": "+919812345678",
              "To": "+15005550001", "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    params.update(extra)
    return params


class LiveServer:
    """Request threads are daemons (a stuck one must not keep the test run from exiting) but are tracked, and
    close() fails the test if any outlives it: that is a socket the app never let go."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.server.daemon_threads, self.server.block_on_close = True, False
        self.requests = []
        self.server.process_request = self._process_request
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _process_request(self, request, client_address):
        thread = threading.Thread(target=self.server.process_request_thread, args=(request, client_address),
                                  daemon=True, name=f"live-request-{client_address[1]}")
        self.requests = [t for t in self.requests if t.is_alive()] + [thread]
        thread.start()

    def close(self, grace=10.0):
        self.server.shutdown()
        self.thread.join(timeout=10)
        deadline = time.monotonic() + grace
        for thread in self.requests:   # let every request (a stream settling its call) finish before the db goes
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self.requests if thread.is_alive()]
        assert not stuck, f"request threads still running {grace:.0f} s after the server stopped: {stuck}"


@pytest.fixture
def live_server(database_url, stand_in):
    """The real app on a local port (werkzeug, threaded), for WebSocket and simulated-call tests."""
    # a stream idles out after longer than close()'s grace, so a test that leaves a socket open still fails;
    # the keypad waits as long as in production for recognition that lags (it costs nothing when none does),
    # so a loaded machine slows these calls down instead of failing them
    # the simulator plays calls up to 6 times faster than real time, over production's audio-rate cap
    app = make_app(database_url, stand_in, IVR_LISTEN_SECONDS=4, IVR_KEYPAD_TIMEOUT=4, IVR_STREAM_IDLE_SECONDS=60,
                   IVR_DECISION_WAIT_SECONDS=3.0, IVR_STREAM_MAX_SPEED=10.0)
    server = LiveServer(app)
    yield server
    app.extensions["ivr.changes"].close()    # a page's live-event stream ends now, not at its next heartbeat (5 s)
    server.close()
    app.extensions["ivr.db"].dispose()


def signed_in(app, db, name, role):
    """A test client signed in as a new operator with ROLE."""
    from helpers import PASSWORD, sign_in
    operators.create(db, name, PASSWORD, role)
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


@pytest.fixture
def operator_client(app, db):
    return signed_in(app, db, "asha", "operator")


@pytest.fixture
def admin_client(app, db):
    return signed_in(app, db, "ravi", "admin")


CHROMIUM = "/usr/bin/chromium"      # Debian's build; Playwright's own browser download does not work here
SCREENSHOTS = Path(__file__).resolve().parent / "out"     # the browser tests' screenshots (git-ignored)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def chromium():
    """Headless Chromium driven by Playwright, for the browser tests."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
