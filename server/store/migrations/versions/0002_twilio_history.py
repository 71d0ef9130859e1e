"""Revision 2: what the Twilio bridge has read of a conversation's whole history.

The rows are kept by server/bridges/twilio/history_rows.py.

twilio_history: per conversation, how far back Twilio's message list was read.
twilio_seen: each Twilio message SID examined -> the stored message's seq.
Data dirs of the branch that kept these tables in store.db by itself already
hold them: a table or index that exists is left as it is.

On PostgreSQL the attachments -> messages foreign key becomes DEFERRABLE
(still checked at once unless a transaction says otherwise), so the one-time
move of a bridge's live seqs above LIVE_BASE can update both tables in one
transaction; SQLite does the same with PRAGMA defer_foreign_keys.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG = sa.BigInteger()


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    if "twilio_history" not in existing:
        op.create_table(
            "twilio_history",
            sa.Column("conversation", sa.Text(), primary_key=True),
            sa.Column("cursor", sa.Text()),                     # Twilio's next_page_url towards older messages
            sa.Column("complete", sa.Integer(), nullable=False, server_default="0"),   # the first message was read
            sa.Column("newest_index", sa.Integer()),            # highest Twilio index examined
            sa.Column("oldest_index", sa.Integer()),            # lowest Twilio index examined
            sa.Column("refreshed_at", sa.Float(), nullable=False, server_default="0"),  # newest page last read
        )
    if "twilio_seen" not in existing:
        op.create_table(
            "twilio_seen",
            sa.Column("conversation", sa.Text(), nullable=False),
            sa.Column("message_sid", sa.Text(), nullable=False),
            sa.Column("twilio_index", sa.Integer()),
            sa.Column("message_seq", BIG, nullable=False),
            sa.PrimaryKeyConstraint("conversation", "message_sid"),
        )
    if "twilio_seen" not in existing or "twilio_seen_seq" not in {i["name"] for i in
                                                                   inspector.get_indexes("twilio_seen")}:
        op.create_index("twilio_seen_seq", "twilio_seen", ["conversation", "message_seq"])
    if bind.dialect.name == "postgresql":
        _deferrable_attachment_key(inspector, deferrable=True)


def _deferrable_attachment_key(inspector: sa.Inspector, *, deferrable: bool) -> None:
    for fk in inspector.get_foreign_keys("attachments"):
        name = fk["name"]           # PostgreSQL names every constraint; only SQLite's may have none
        if fk["referred_table"] == "messages" and name is not None:
            op.drop_constraint(name, "attachments", type_="foreignkey")
            op.create_foreign_key(name, "attachments", "messages", ["message_seq"], ["seq"],
                                  deferrable=deferrable or None, initially="IMMEDIATE" if deferrable else None)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _deferrable_attachment_key(sa.inspect(bind), deferrable=False)
    op.drop_table("twilio_seen")
    op.drop_table("twilio_history")
