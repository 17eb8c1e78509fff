"""The start-up check of the database: missing, empty or unmigrated databases are refused in one line that says
what to run; a database that does not answer is logged and the line starts anyway."""
import logging

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from ivr.store import Database, normalise_url, schema

from helpers import alembic_config


def migrate(url, revision="head"):
    command.upgrade(alembic_config(url), revision)


def test_a_migrated_database_passes(empty_database_url):
    migrate(empty_database_url)
    schema.check(empty_database_url)


def test_a_sqlite_file_in_a_missing_folder_is_refused_and_no_folder_is_made(tmp_path):
    url = f"sqlite:///{tmp_path}/not/here/ivr.sqlite3"
    with pytest.raises(schema.SchemaError, match=r"points into .*not/here, which does not exist: fix DATABASE_URL"):
        schema.check(url)
    Database().configure(url)                       # configuring the app makes no folder either
    assert not (tmp_path / "not").exists()


def test_a_missing_sqlite_file_is_refused_without_creating_it(tmp_path):
    path = tmp_path / "ivr.sqlite3"
    with pytest.raises(schema.SchemaError, match=r"no database at .*ivr.sqlite3: run the migrations with `alembic"):
        schema.check(f"sqlite:///{path}")
    assert not path.exists()


def test_an_empty_database_is_refused_naming_the_migrations(empty_database_url):
    with pytest.raises(schema.SchemaError, match=r"has no tables: run the migrations with `alembic upgrade head`"):
        schema.check(empty_database_url if "postgresql" in empty_database_url else _touch(empty_database_url))


def test_a_database_behind_the_code_is_refused_naming_both_migrations(empty_database_url):
    migrate(empty_database_url, "0009")
    with pytest.raises(schema.SchemaError, match=r"is at migration 0009, this code needs 0\d+: run the migrations"):
        schema.check(empty_database_url)


def test_a_database_ahead_of_the_code_is_refused(empty_database_url):
    migrate(empty_database_url)
    engine = create_engine(normalise_url(empty_database_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(schema.SchemaError, match=r"at migration 9999, which this code does not know"):
        schema.check(empty_database_url)


def test_a_database_that_does_not_answer_is_one_error_line_and_no_refusal(caplog):
    with caplog.at_level(logging.ERROR, logger="ivr.store.schema"):
        schema.check("postgresql://postgres:secret@127.0.0.1:1/nowhere", deadline=1)
    [record] = caplog.records
    assert "does not answer" in record.getMessage() and "starting anyway" in record.getMessage()
    assert "secret" not in record.getMessage() and record.exc_info is None


def _touch(url):
    path = url.removeprefix("sqlite:///")
    open(path, "a").close()
    return url
