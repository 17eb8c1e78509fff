"""followed early decisions, and spam-list entries that expire

`calls.followed_at`: a webhook step carried out an early route too, so a live update that fails afterwards no
longer releases it. `spam_numbers.expires_at`: an entry may be listed for a while only.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('spam_numbers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('spam_numbers', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('followed_at')
