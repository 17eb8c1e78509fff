"""control room: operators, audit log, call updated_at, operator label, number search

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('operators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_target'), ['target'], unique=False)

    with op.batch_alter_table('calls', schema=None) as batch_op:
        # calls stored before this revision count as updated now
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                                      server_default=sa.func.current_timestamp()))
        batch_op.add_column(sa.Column('operator_label', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('operator_label_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('operator_label_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('from_digits_reversed', sa.String(length=32), nullable=False, server_default=''))
        batch_op.create_index('ix_calls_from_digits_reversed', ['from_digits_reversed'], unique=False,
                              postgresql_ops={'from_digits_reversed': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_calls_updated_at'), ['updated_at'], unique=False)
    _fill_digits_reversed()


def _fill_digits_reversed():
    # Calls stored before this revision become searchable by their last digits too.
    calls = sa.table('calls', sa.column('id', sa.Integer), sa.column('from_number', sa.String),
                     sa.column('from_digits_reversed', sa.String))
    conn = op.get_bind()
    rows = [{'row_id': row_id, 'digits': ''.join(ch for ch in number if ch.isdigit())[::-1][:32]}
            for row_id, number in conn.execute(sa.select(calls.c.id, calls.c.from_number))]
    if rows:
        conn.execute(calls.update().where(calls.c.id == sa.bindparam('row_id'))
                     .values(from_digits_reversed=sa.bindparam('digits')), rows)


def downgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_updated_at'))
        batch_op.drop_index('ix_calls_from_digits_reversed')
        batch_op.drop_column('from_digits_reversed')
        batch_op.drop_column('operator_label_at')
        batch_op.drop_column('operator_label_by')
        batch_op.drop_column('operator_label')
        batch_op.drop_column('updated_at')

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_target'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('operators')
