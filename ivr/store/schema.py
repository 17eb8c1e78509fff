"""Is the database ready for this code? Checked once at start-up, so a deployment mistake is one clear line."""
import logging
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from ivr.config import SettingError
from ivr.store import normalise_url, sqlite_file

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
MIGRATE = "run the migrations with `alembic upgrade head` (bin/setup does; in production the Procfile's release step)"


class SchemaError(SettingError):
    """The database cannot serve this code until someone acts; the message says what to do."""


def check(url, deadline=5.0, unreachable_is_fatal=False):
    """Raise SchemaError when the database is missing, empty or at another migration than this code's head.
    A database that does not answer only logs an error (unless UNREACHABLE_IS_FATAL, for admin commands): the line
    starts anyway and its webhooks answer with the operator until the database is back (refusing to start would
    leave callers with nothing)."""
    shown = make_url(normalise_url(url)).render_as_string(hide_password=True)
    path = sqlite_file(url)
    if path and not path.parent.is_dir():
        raise SchemaError(f"DATABASE_URL points into {path.parent}, which does not exist: fix DATABASE_URL, or create "
                          f"the folder and {MIGRATE}")
    if path and not path.exists():
        raise SchemaError(f"there is no database at {path}: {MIGRATE}")
    try:
        current = _current_revision(url, deadline)
    except Exception as error:  # noqa: BLE001 - any failure to connect is reported the same way
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        if unreachable_is_fatal:
            raise SchemaError(f"database {shown} does not answer ({reason}): check DATABASE_URL and the database "
                              f"server") from None
        log.error("database %s does not answer (%s): starting anyway; calls go to the operator until it does. Check "
                  "DATABASE_URL and the database server", shown, reason)
        return
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if current is None:
        raise SchemaError(f"the database {shown} has no tables: {MIGRATE}")
    if current != head:
        known = {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
        if current not in known:
            raise SchemaError(f"the database {shown} is at migration {current}, which this code does not know (a newer "
                              f"release?): deploy the matching code, or downgrade the database with that release")
        raise SchemaError(f"the database {shown} is at migration {current}, this code needs {head}: {MIGRATE}")


def command_group(name, help):
    """A group of admin commands (flask CLI) that first checks the database, so a wrong DATABASE_URL or a missing
    migration is one "Error:" line instead of a traceback from the first query."""
    return AppGroup(name, help=help, callback=_check_for_commands)


@with_appcontext
def _check_for_commands():
    check(current_app.config["DATABASE_URL"], current_app.config["DATABASE_DEADLINE_SECONDS"], unreachable_is_fatal=True)


def _current_revision(url, deadline):
    url = normalise_url(url)
    connect = {"timeout": deadline} if url.startswith("sqlite") else {"connect_timeout": max(1, round(deadline))}
    engine = create_engine(url, connect_args=connect)
    chatter = logging.getLogger("alembic.runtime.migration")     # "Context impl SQLiteImpl." on every check
    level = chatter.level
    chatter.setLevel(logging.WARNING)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        chatter.setLevel(level)
        engine.dispose()
