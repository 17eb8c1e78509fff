"""alert kinds and recordings: flood_alerts.kind and .detail (flood, campaign, number-range, blank-burst), one
alert per line, kind and cooldown bucket; audio_fingerprints.recording groups the calls of one recording

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# 0002 left the (line, bucket) constraint unnamed: PostgreSQL named it, SQLite's batch copy names it by this convention
CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique():
    return "flood_alerts_line_bucket_key" if op.get_bind().dialect.name == "postgresql" else "uq_flood_alerts_line"


def upgrade():
    old = _old_unique()
    with op.batch_alter_table('flood_alerts', schema=None, naming_convention=CONVENTION) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='flood', nullable=False))
        batch_op.add_column(sa.Column('detail', sa.String(length=300), server_default='', nullable=False))
        batch_op.drop_constraint(old, type_='unique')
        batch_op.create_unique_constraint('uq_flood_alerts_line_kind_bucket', ['line', 'kind', 'bucket'])
    with op.batch_alter_table('audio_fingerprints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audio_fingerprints_recording'), ['recording'], unique=False)


def downgrade():
    with op.batch_alter_table('audio_fingerprints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audio_fingerprints_recording'))
        batch_op.drop_column('recording')
    op.execute("DELETE FROM flood_alerts WHERE kind <> 'flood'")    # 0006 knows only flood alerts
    with op.batch_alter_table('flood_alerts', schema=None, naming_convention=CONVENTION) as batch_op:
        batch_op.drop_constraint('uq_flood_alerts_line_kind_bucket', type_='unique')
        batch_op.create_unique_constraint(_old_unique(), ['line', 'bucket'])
        batch_op.drop_column('detail')
        batch_op.drop_column('kind')
