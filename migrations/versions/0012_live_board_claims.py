"""the live board: who is taking a call, and an index of the calls not yet ended

`calls.claimed_by`, `calls.claimed_at`: the operator who said "taking it" (ivr.store.board). `ix_calls_open`:
a partial index on created_at of the calls with no ended_at, so the board's pinned calls are one small scan.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_calls_open', 'calls', ['created_at'], unique=False,
                    postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))


def downgrade():
    op.drop_index('ix_calls_open', table_name='calls', postgresql_where=sa.text('ended_at IS NULL'),
                  sqlite_where=sa.text('ended_at IS NULL'))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by')
