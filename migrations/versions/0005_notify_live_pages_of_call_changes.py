"""notify live control-room pages of call changes (PostgreSQL LISTEN/NOTIFY)

Revision ID: 0005
Revises: 0004
"""
from alembic import op

from ivr.store.notify import CREATE, DROP


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":    # SQLite has no notifications: its pages poll
        for statement in CREATE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP:
            op.execute(statement)
