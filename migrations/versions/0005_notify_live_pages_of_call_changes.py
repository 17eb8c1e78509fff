"""notify live control-room pages of call changes (PostgreSQL LISTEN/NOTIFY)

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CHANNEL = "ivr_calls_changed"     # ivr.store.notify listens on it
CREATE = [
    f"""CREATE OR REPLACE FUNCTION ivr_notify_calls_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$""",
    "CREATE TRIGGER ivr_calls_changed AFTER INSERT OR UPDATE ON calls "
    "FOR EACH STATEMENT EXECUTE FUNCTION ivr_notify_calls_changed()",
]
DROP = ["DROP TRIGGER IF EXISTS ivr_calls_changed ON calls", "DROP FUNCTION IF EXISTS ivr_notify_calls_changed()"]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":    # SQLite has no notifications: its pages poll
        for statement in CREATE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP:
            op.execute(statement)
