"""Revision 3: `messages.update_of`, so a change to a stored message is an event of the live stream.

Why a row in `messages` and not a table of its own: the live stream's cursor
is the global seq (`after=<seq>`, Last-Event-ID), and only this table draws
it. A row with `update_of` set (the id of a message stored before) says "this
message changed at this seq" (today: its photo's thumbnail was made): a
stream that reaches it sends the message again, as it is now, as an `update`
event; the history and every count of messages leave such rows out.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "update_of" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("messages")}:
        op.add_column("messages", sa.Column("update_of", sa.Text()))   # NULL: a message; else the id it updates


def downgrade() -> None:
    op.execute("DELETE FROM messages WHERE update_of IS NOT NULL")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("update_of")
