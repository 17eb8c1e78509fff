"""priority hold queue: a caller's place in the queue and when a dial connected, callback priority, operator phones

calls gain queued_at, queue_priority, taken_at, taken_by, queue_result and connected_at, with an index in serving
order; callbacks gain priority (existing entries were all dropped or blank calls: Priority.UNDECIDED, 2);
operators gain an optional phone (E.164 or sip:) where a caller they take is dialled.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('queue_priority', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('taken_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('queue_result', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_calls_queue_order', ['queue_priority', 'queued_at'], unique=False)
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='2'))
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=128), nullable=True))


def downgrade():
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('phone')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_column('priority')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_queue_order')
        batch_op.drop_column('connected_at')
        batch_op.drop_column('queue_result')
        batch_op.drop_column('taken_by')
        batch_op.drop_column('taken_at')
        batch_op.drop_column('queue_priority')
        batch_op.drop_column('queued_at')
