"""timed transcript turns, and operators' notes on calls

`calls.turns`: each final utterance with its offset in seconds from the call's arrival. `call_notes`: notes
operators write on a call, with the author and the time (each one audited as call.note).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turns', sa.JSON(), nullable=True))
    op.create_table('call_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sa.String(length=64), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('call_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_notes_call_sid'), ['call_sid'], unique=False)


def downgrade():
    with op.batch_alter_table('call_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_notes_call_sid'))
    op.drop_table('call_notes')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('turns')
