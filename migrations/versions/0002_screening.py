"""screening: flags, blank counts, holds, callbacks, flood alerts, fingerprints, settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:05:10.144831
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audio_fingerprints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hashes', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_sid')
    )
    with op.batch_alter_table('audio_fingerprints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audio_fingerprints_created_at'), ['created_at'], unique=False)

    op.create_table('blank_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('blank_calls', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number', 'day')
    )
    op.create_table('callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('why', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('outcomes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_sid')
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callbacks_status'), ['status'], unique=False)

    op.create_table('flood_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line', sa.String(length=64), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('callers', sa.Integer(), nullable=False),
    sa.Column('window_seconds', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('line', 'bucket')
    )
    with op.batch_alter_table('flood_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flood_alerts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_flood_alerts_status'), ['status'], unique=False)

    op.create_table('screen_settings',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('number_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('number_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_number_holds_number'), ['number'], unique=False)

    with op.batch_alter_table('calls', schema=None) as batch_op:
        # calls made before this revision have no flags
        batch_op.add_column(sa.Column('flags', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('audio_reasons', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('block_reason', sa.String(length=300), nullable=True))
        batch_op.create_index('ix_calls_to_number_created_at', ['to_number', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_to_number_created_at')
        batch_op.drop_column('block_reason')
        batch_op.drop_column('audio_reasons')
        batch_op.drop_column('flags')

    with op.batch_alter_table('number_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_number_holds_number'))

    op.drop_table('number_holds')
    op.drop_table('screen_settings')
    with op.batch_alter_table('flood_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flood_alerts_status'))
        batch_op.drop_index(batch_op.f('ix_flood_alerts_created_at'))

    op.drop_table('flood_alerts')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callbacks_status'))

    op.drop_table('callbacks')
    op.drop_table('blank_counts')
    with op.batch_alter_table('audio_fingerprints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audio_fingerprints_created_at'))

    op.drop_table('audio_fingerprints')
