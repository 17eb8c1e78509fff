"""Alembic environment: the URL comes from the app's configuration (DATABASE_URL) or the caller."""
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from ivr.config import load_config
from ivr.store import normalise_url, sqlite_file
from ivr.store.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

url = config.attributes.get("database_url") or load_config()["DATABASE_URL"]
if sqlite_file(url):
    sqlite_file(url).parent.mkdir(parents=True, exist_ok=True)   # set-up makes the folder; the app never does
config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
target_metadata = Base.metadata


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
