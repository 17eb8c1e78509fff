"""A stalled or read-only database: webhooks still answer within Twilio's 15 s (with the operator), and /health
says what is wrong."""
import threading
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import create_engine, text

from ivr.store import Database, normalise_url

from conftest import BACKENDS, call_params, make_app, sign


DEADLINE = 0.5


@pytest.fixture
def stalling_app(database_url, stand_in):
    app = make_app(database_url, stand_in, DATABASE_DEADLINE_SECONDS=DEADLINE)
    yield app
    app.extensions["ivr.changes"].close()
    app.extensions["ivr.db"].dispose()


def _stall(url, held, release):
    """Hold the database the way a stuck writer would: the write turn (SQLite) or LOCK TABLE calls (PostgreSQL)."""
    if url.startswith("sqlite"):
        other = Database().configure(url)            # another gunicorn process
        with other.session():
            held.set()
            release.wait(10)
        other.dispose()
        return
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
        held.set()
        release.wait(10)
    engine.dispose()


def test_a_stalled_database_still_answers_the_caller_with_the_operator_in_time(stalling_app, database_url):
    client, held, release = stalling_app.test_client(), threading.Event(), threading.Event()
    staller = threading.Thread(target=_stall, args=(database_url, held, release))
    staller.start()
    try:
        assert held.wait(5)
        answers = []

        def ring():
            params = call_params()
            answers.append(client.post("/voice", data=params,
                                       headers={"X-Twilio-Signature": sign("http://localhost/voice", params)}))

        callers = [threading.Thread(target=ring) for _ in range(3)]     # they queue for the write turn together
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(30)
        assert staller.is_alive(), "the answers came only after the database was released"
        for response in answers:
            assert response.status_code == 200
            assert ET.fromstring(response.data).find("Dial/Number").text == "+15005550100"
        assert len(answers) == 3
        health = client.get("/health")
        assert health.status_code == 503 and health.json["database"] == "stalled"
    finally:
        release.set()
        staller.join(10)
    assert client.get("/health").json["database"] == "ok"


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="a read-only database is a PostgreSQL replica or standby: "
                                                          "needs TEST_DATABASE_URL, which .ci/run sets")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_read_only_postgresql_is_reported(app, database_url):
    read_only = Database().configure(database_url + "%20-cdefault_transaction_read_only%3Don", deadline=DEADLINE)
    try:
        assert app.extensions["ivr.db"].probe() == "ok" and read_only.probe() == "read-only"
    finally:
        read_only.dispose()
