"""create calls and spam numbers

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('from_number', sa.String(length=64), nullable=False),
    sa.Column('to_number', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('stream_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('utterance_open', sa.Boolean(), nullable=False),
    sa.Column('voice_seconds', sa.Float(), nullable=False),
    sa.Column('transcript', sa.Text(), nullable=False),
    sa.Column('partial_transcript', sa.Text(), nullable=False),
    sa.Column('label', sa.String(length=16), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('probabilities', sa.JSON(), nullable=True),
    sa.Column('digit', sa.String(length=8), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('department', sa.String(length=16), nullable=True),
    sa.Column('route_target', sa.String(length=128), nullable=True),
    sa.Column('routed_early', sa.Boolean(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('risk', sa.Float(), nullable=False),
    sa.Column('faults', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_from_number'), ['from_number'], unique=False)

    op.create_table('spam_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )


def downgrade():
    op.drop_table('spam_numbers')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_from_number'))
        batch_op.drop_index(batch_op.f('ix_calls_created_at'))

    op.drop_table('calls')
