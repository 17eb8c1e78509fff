"""routes and flags as data: calls.decision holds the route; calls.flags maps each flag to its reason

Before: `decision` was dial|hangup|blank|reject with the desk in `department`, and `flags` was a list of
screening flag names; the control room re-derived more flags by searching the reasons' text. After:
`decision` is one ivr.vocabulary.Route (emergency|inquiry|complaint|operator|hangup|blank|reject), and
`flags` is {flag: reason}. Flags of existing calls are derived here, once, from what they stored.

Revision ID: 0006
Revises: 0005
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# The reason prefix each stored screening flag was raised with (ivr.screening at revision 0005).
PREFIXES = {"caller-id": ("caller-id:", "number-type:"), "spoof-risk": ("spoof:", "stir:"), "repeat-caller": ("repeat:",),
            "watch-list": ("watch-list:",), "flood": ("flood:",), "gate": ("gate:",), "spam-list": ("spam-list:",),
            "blocked": ("policy-block:",), "robocall": ("robocall:",), "same-recording": ("fingerprint:",),
            "fax-tone": ("fax-tone:",), "modem-tone": ("modem-tone:",), "talk-over": ("talk-over:",)}
DECISION_FLAGS = ("silent-caller", "suspected-prank")    # written as "flag: NAME" reasons at revision 0005
BATCH = 1000

calls = sa.table("calls", sa.column("id", sa.Integer), sa.column("decision", sa.String), sa.column("department", sa.String),
                 sa.column("flags", sa.JSON), sa.column("reasons", sa.JSON), sa.column("audio_reasons", sa.JSON))


def _loads(value):
    return json.loads(value) if isinstance(value, str) else (value or [])


def derive_flags(stored, decision, reasons, audio_reasons):
    """{flag: reason} from a call stored at revision 0005."""
    texts = list(reasons) + list(audio_reasons)
    flags = {}
    for flag in stored:
        prefixes = PREFIXES.get(flag, (f"{flag}:",))
        flags[flag] = next((text for text in texts if text.startswith(prefixes)), f"screening: {flag}")
    for flag in DECISION_FLAGS:
        if f"flag: {flag}" in reasons:
            flags[flag] = next((text for text in reasons if text.startswith("keypad:")), f"decision: {flag}")
    if decision == "blank":
        flags["blank"] = next((text for text in reasons if text.startswith("blank:")), "blank: no speech and no key")
    return flags


def _rows(bind, columns, after):
    return bind.execute(sa.select(*columns).where(calls.c.id > after).order_by(calls.c.id).limit(BATCH)).all()


def upgrade():
    bind = op.get_bind()
    bind.execute(calls.update().where(calls.c.decision == "dial").values(decision=calls.c.department))
    last = 0
    while rows := _rows(bind, (calls.c.id, calls.c.decision, calls.c.flags, calls.c.reasons, calls.c.audio_reasons), last):
        for row in rows:
            flags = derive_flags(_loads(row.flags), row.decision, _loads(row.reasons), _loads(row.audio_reasons))
            bind.execute(calls.update().where(calls.c.id == row.id).values(flags=flags))
        last = rows[-1].id
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('department')
        batch_op.alter_column('flags', existing_type=sa.JSON(), server_default=sa.text("'{}'"))


def downgrade():
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department', sa.String(length=16), nullable=True))
        batch_op.alter_column('flags', existing_type=sa.JSON(), server_default=sa.text("'[]'"))
    bind = op.get_bind()
    desks = ("emergency", "inquiry", "complaint", "operator")
    bind.execute(calls.update().where(calls.c.decision.in_(desks)).values(department=calls.c.decision, decision="dial"))
    last = 0
    while rows := _rows(bind, (calls.c.id, calls.c.flags), last):
        for row in rows:
            flags = _loads(row.flags)
            bind.execute(calls.update().where(calls.c.id == row.id).values(flags=list(flags) if isinstance(flags, dict) else flags))
        last = rows[-1].id
