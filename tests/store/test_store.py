import json
import threading

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from ivr.store import Database, actions, audit, calls, normalise_url, spam
from ivr.store.models import Base

from conftest import listed
from helpers import alembic_config


def test_open_call_is_idempotent(db):
    first = calls.open_call(db, "CA1", "+919812345678", "+15005550001", 0.3, ["caller-id: withheld"])
    again = calls.open_call(db, "CA1", "+910000000000", "x", 0.9, ["other"])
    assert again.id == first.id
    stored = calls.get_call(db, "CA1")
    assert (stored.from_number, stored.risk, stored.reasons) == ("+919812345678", 0.3, ["caller-id: withheld"])


def test_only_one_decision_wins_a_race(db):
    calls.open_call(db, "CA2", "+919812345678", "+1")
    results, barrier = [], threading.Barrier(8)

    def claim(route):
        barrier.wait()
        results.append((route, calls.claim_decision(db, "CA2", route, "+1", [f"by {route}"])))

    threads = [threading.Thread(target=claim, args=(f"desk{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [route for route, won in results if won]
    assert len(winners) == 1
    stored = calls.get_call(db, "CA2")
    assert stored.decision == winners[0] and stored.reasons == [f"by {winners[0]}"]


def test_release_decision_lets_the_keypad_decide_and_takes_back_what_the_claim_said(db):
    calls.open_call(db, "CA3", "+919812345678", "+1", reasons=["caller-id: withheld"],
                    flags={"caller-id": "caller-id: withheld"})
    claimed = ("classifier: emergency 0.95", "early: routed while the caller was speaking")
    assert calls.claim_decision(db, "CA3", "emergency", "+1", claimed, {"suspected-prank": "x"}, early=True)
    calls.release_decision(db, "CA3", claimed, {"suspected-prank": "x"}, "early route failed: 500")
    stored = calls.get_call(db, "CA3")
    assert stored.decision is None and not stored.routed_early and stored.faults == ["early route failed: 500"]
    assert stored.reasons == ["caller-id: withheld"] and stored.flags == {"caller-id": "caller-id: withheld"}
    assert calls.claim_decision(db, "CA3", "operator", "+2", ["keypad"])


def test_close_call_keeps_the_first_final_status(db):
    calls.open_call(db, "CA4", "+919812345678", "+1")
    calls.close_call(db, "CA4", "in-progress")
    calls.close_call(db, "CA4", "completed", 42)
    calls.close_call(db, "CA4", "completed", 42)
    calls.close_call(db, "CA4", "ringing", 7)
    stored = calls.get_call(db, "CA4")
    assert (stored.status, stored.duration) == ("completed", 42)
    assert stored.ended_at is not None
    assert calls.close_call(db, "CA-unknown", "completed") is None


def test_transcript_accumulates_with_its_classification(db):
    from ivr.triage.classifier import Classification

    calls.open_call(db, "CA5", "+919812345678", "+1")
    calls.set_utterance_open(db, "CA5", True)
    calls.add_final(db, "CA5", "there is a fire", 1.5, Classification("emergency", 0.9, {"emergency": 0.9}))
    calls.add_final(db, "CA5", "please hurry", 2.5, Classification("emergency", 0.95, {"emergency": 0.95}))
    stored = calls.get_call(db, "CA5")
    assert stored.transcript == "there is a fire please hurry"
    assert (stored.label, stored.confidence, stored.voice_seconds) == ("emergency", 0.95, 2.5)
    assert not stored.utterance_open


def test_wait_until_settled_returns_when_the_utterance_closes(db):
    calls.open_call(db, "CA6", "+919812345678", "+1")
    calls.set_utterance_open(db, "CA6", True)
    timer = threading.Timer(0.3, calls.add_final, args=(db, "CA6", "help", 1.0))
    timer.start()
    stored = calls.wait_until_settled(db, "CA6", timeout=5)
    timer.join()
    assert stored.transcript == "help" and not stored.utterance_open


def test_wait_until_settled_gives_up_after_the_timeout(db):
    calls.open_call(db, "CA7", "+919812345678", "+1")
    calls.set_utterance_open(db, "CA7", True)
    assert calls.wait_until_settled(db, "CA7", timeout=0.2).utterance_open


def test_spam_list_add_update_remove(db):
    actions.add_spam(db, "+15005550006", "robocalls", "op 17")
    actions.add_spam(db, "+15005550006", "robocall campaign", "op 18")
    assert [(e.number, e.reason, e.added_by) for e in spam.all_entries(db)] == [
        ("+15005550006", "robocall campaign", "op 18")]
    assert actions.remove_spam(db, "+15005550006", "test")
    assert not actions.remove_spam(db, "+15005550006", "test")
    assert listed(db, "+15005550006") is None
    assert [(e.actor, e.action, (e.before or {}).get("reason"), (e.after or {}).get("reason"))
            for e in reversed(audit.recent(db, target="+15005550006"))] == [
        ("op 17", "spam.add", None, "robocalls"), ("op 18", "spam.add", "robocalls", "robocall campaign"),
        ("test", "spam.remove", "robocall campaign", None)]


def test_postgres_urls_use_psycopg3():
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("sqlite:///x") == "sqlite:///x"


def test_migrations_build_the_schema_the_models_describe(empty_database_url):
    """Upgrade an empty database to head; then autogenerate must find nothing left to do."""
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")
    engine = create_engine(normalise_url(empty_database_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == []
            assert set(inspect(conn).get_table_names()) >= {"calls", "spam_numbers", "alembic_version"}
        command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_migration_carries_decisions_and_flags_over_as_data(empty_database_url):
    """0006: a desk's `dial` becomes its route, and each call's flags are derived once from what it stored."""
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0001")
    engine = create_engine(normalise_url(empty_database_url))
    old = [("CAdesk", "dial", "emergency", ["keypad: 5", "classifier: no speech", "flag: silent-caller"]),
           ("CAspam", "reject", None, ["spam-list: robocaller (added by op 17 on 2026-11-02)"]),
           ("CAblank", "blank", None, ["keypad: none", "blank: no speech and no key after the silent-caller prompt"])]
    try:
        with engine.begin() as conn:
            for sid, decision, department, reasons in old:
                conn.execute(text(
                    "INSERT INTO calls (sid, from_number, to_number, created_at, status, utterance_open, voice_seconds, "
                    "transcript, partial_transcript, attempts, routed_early, risk, faults, reasons, decision, department) "
                    "VALUES (:sid, '+919812345678', '+1', CURRENT_TIMESTAMP, 'completed', false, 0, '', '', 0, false, 0, "
                    "'[]', :reasons, :decision, :department)"),
                    {"sid": sid, "reasons": json.dumps(reasons), "decision": decision, "department": department})
        command.upgrade(config, "0005")
        with engine.begin() as conn:
            conn.execute(text("UPDATE calls SET flags = :flags WHERE sid = 'CAspam'"), {"flags": '["spam-list"]'})
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = {row.sid: row for row in conn.execute(text("SELECT sid, decision, flags FROM calls"))}
        flags = {sid: row.flags if isinstance(row.flags, dict) else json.loads(row.flags) for sid, row in rows.items()}
        assert {sid: row.decision for sid, row in rows.items()} == {"CAdesk": "emergency", "CAspam": "reject",
                                                                    "CAblank": "blank"}
        assert flags == {"CAdesk": {"silent-caller": "keypad: 5"},
                         "CAspam": {"spam-list": "spam-list: robocaller (added by op 17 on 2026-11-02)"},
                         "CAblank": {"blank": "blank: no speech and no key after the silent-caller prompt"}}
        command.downgrade(config, "0005")
        with engine.connect() as conn:
            row = conn.execute(text("SELECT decision, department FROM calls WHERE sid = 'CAdesk'")).one()
        assert tuple(row) == ("dial", "emergency")
    finally:
        engine.dispose()


def test_migrations_create_the_sqlite_folder_on_a_fresh_machine(tmp_path):
    command.upgrade(alembic_config(f"sqlite:///{tmp_path / 'instance' / 'ivr.sqlite3'}"), "head")
    assert (tmp_path / "instance" / "ivr.sqlite3").stat().st_size > 0


def test_concurrent_read_then_write_transactions_neither_fail_nor_lose_updates(db):
    calls.open_call(db, "CA-busy", "+919812345678", "+1")
    errors, barrier = [], threading.Barrier(12)

    def hammer():
        barrier.wait()
        for _ in range(15):
            try:
                calls.record_attempt(db, "CA-busy", None)
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert calls.get_call(db, "CA-busy").attempts == 12 * 15


def test_keypad_wait_covers_audio_recognition_has_not_reached_yet(db):
    import time

    calls.open_call(db, "CA-lag", "+919812345678", "+1")
    now = time.time()
    calls.set_heard(db, "CA-lag", now - 2.0)          # recognition is two seconds behind the caller
    timer = threading.Timer(0.3, calls.set_heard, args=(db, "CA-lag", now))
    timer.start()
    started = time.monotonic()
    call = calls.wait_until_settled(db, "CA-lag", timeout=5, heard_by=now - 0.5)
    timer.join()
    assert call.heard_until == now and 0.25 < time.monotonic() - started < 3
    assert calls.wait_until_settled(db, "CA-lag", timeout=0.2, heard_by=now + 60).heard_until == now


def test_migration_makes_old_calls_searchable_by_their_last_digits(empty_database_url):
    """Rows stored under revision 0001 get updated_at and their reversed digits when 0003 runs."""
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0001")
    engine = create_engine(normalise_url(empty_database_url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO calls (sid, from_number, to_number, created_at, status, utterance_open, voice_seconds, "
                "transcript, partial_transcript, attempts, routed_early, risk, faults, reasons) VALUES ('CAold', "
                "'+919812345678', '+1', CURRENT_TIMESTAMP, 'completed', false, 0, '', '', 0, false, 0, '[]', '[]')")
        command.upgrade(config, "head")
        with engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT from_digits_reversed, updated_at FROM calls").one()
        assert row[0] == "876543218919" and row[1] is not None
    finally:
        engine.dispose()


def test_sqlite_writers_queue_across_connections_and_processes(tmp_path):
    """Two Databases on one file stand for two gunicorn processes: the flock beside the file orders them."""
    url = f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    first, second = Database().configure(url), Database().configure(url)
    Base.metadata.create_all(first.engine)
    holding, second_wrote, order = threading.Event(), threading.Event(), []

    def write_second():
        holding.wait()
        with second.session():
            order.append("second")
        second_wrote.set()

    thread = threading.Thread(target=write_second)
    thread.start()
    with first.session():
        holding.set()
        assert not second_wrote.wait(0.3), "a second writer got in while the first held the queue"
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "second"]
    for database in (first, second):
        database.dispose()


def test_sqlite_write_sessions_nest_on_one_thread_and_time_out_between_threads(tmp_path):
    db = Database().configure(f"sqlite:///{tmp_path / 'nest.sqlite3'}")
    Base.metadata.create_all(db.engine)
    with db._writers, db._writers:       # re-entrant: an inner write turn on the same thread does not wait
        db._writers.timeout = 0.2
        failure = []
        other = threading.Thread(target=lambda: failure.append(_try_write(db)))
        other.start()
        other.join(timeout=5)
    assert failure and "database is locked" in failure[0]
    actions.add_spam(db, "+15005550006", "after", "test")   # and the turn is free again afterwards
    assert listed(db, "+15005550006") is not None
    db.dispose()


def _try_write(db):
    try:
        with db.session():
            return "wrote"
    except Exception as error:  # noqa: BLE001 - the test reads the message
        return str(error)
