"""Revision 1: the schema as it was when migrations became versioned (messages, uploads, quotas, ledger).

Why it looks before it creates: SQLite databases made before this revision
have no alembic_version table but hold the tables already, in one of two
shapes (the first data dirs lack uploads.touched_at and messages'
sender_name/sender_role, which the old start-up code added). So this revision
brings any of them, or an empty database, to the same schema: a table that
is missing is created, a column that is missing is added and filled in as
the old code did, an index that is missing is made. Nothing is dropped.
The Twilio ledger's two tables are new in this database (they used to have a
file of their own, twilio.sqlite3, which a cluster could not share).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")    # SQLite: INTEGER PRIMARY KEY is the rowid


def _text(name: str, **kw: Any) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=False, **kw)


def _tables() -> list[tuple[str, list[sa.Column | sa.Constraint], dict]]:
    return [
        ("conversations", [sa.Column("id", sa.Text(), primary_key=True), _text("created_at")], {}),
        ("messages", [
            sa.Column("seq", BIG, primary_key=True, autoincrement=True),    # global, never reused
            _text("id", unique=True),
            sa.Column("conversation", sa.Text(), sa.ForeignKey("conversations.id"), nullable=False),
            _text("sender"),
            _text("text"),
            _text("created_at"),
            _text("idempotency_key", server_default=""),
            _text("sender_name", server_default=""),
            _text("sender_role", server_default=""),
        ], {"sqlite_autoincrement": True}),
        ("uploads", [
            sa.Column("id", sa.Text(), primary_key=True),
            _text("owner"), _text("name"),
            sa.Column("size", sa.BigInteger(), nullable=False),
            _text("declared_type"), _text("content_type"),
            sa.Column("offset", sa.BigInteger(), nullable=False, server_default="0"),
            sa.Column("head_checked", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("sha256", sa.Text()),                                   # set when complete
            _text("created_at"),
            sa.Column("touched_at", sa.Float(), nullable=False, server_default="0"),   # expiry counts from here
        ], {}),
        ("attachments", [
            sa.Column("message_seq", BIG, sa.ForeignKey("messages.seq"), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("upload_id", sa.Text(), sa.ForeignKey("uploads.id"), nullable=False),
            sa.PrimaryKeyConstraint("message_seq", "position"),
        ], {}),
        ("thumbnails", [
            sa.Column("sha256", sa.Text(), primary_key=True),        # of the original (media/<sha256>)
            sa.Column("width", sa.Integer(), nullable=False),        # 0 x 0: none could be made
            sa.Column("height", sa.Integer(), nullable=False),
            sa.Column("made_at", sa.Float(), nullable=False),
        ], {}),
        ("upload_quota", [
            sa.Column("upload_id", sa.Text(), primary_key=True),
            _text("owner"),
            sa.Column("at", sa.Float(), nullable=False),             # unix time of creation
            sa.Column("bytes", sa.BigInteger(), nullable=False),     # declared; what was received once gone
        ], {}),
        ("twilio_sends", [
            _text("conversation"), _text("idempotency_key"),
            sa.Column("part", sa.Integer(), nullable=False),
            _text("state"),                                          # 'posting' | 'sent'
            sa.Column("media_sid", sa.Text()),
            sa.Column("message_sid", sa.Text()),
            sa.Column("message_index", sa.Integer()),
            sa.Column("created_at", sa.Text()),                      # Twilio's date_created of the message
            _text("updated_at"),
            sa.PrimaryKeyConstraint("conversation", "idempotency_key", "part"),
        ], {}),
        ("twilio_webhooks", [
            sa.Column("token", sa.Text(), primary_key=True),         # I-Twilio-Idempotency-Token
            _text("message_sid"), _text("processed_at"),
        ], {}),
    ]


# name, table, columns, unique, partial condition
INDEXES = [
    ("messages_idempotency", "messages", ["conversation", "idempotency_key"], True, "idempotency_key != ''"),
    ("messages_conversation", "messages", ["conversation", "seq"], False, None),
    ("uploads_media", "uploads", ["sha256", "name"], False, None),
    ("uploads_open", "uploads", ["owner", "touched_at"], False, "sha256 IS NULL"),
    ("attachments_upload", "attachments", ["upload_id"], False, None),
    ("upload_quota_owner", "upload_quota", ["owner", "at"], False, None),
    ("upload_quota_at", "upload_quota", ["at"], False, None),
    ("twilio_webhooks_message", "twilio_webhooks", ["message_sid"], False, None),
]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, columns, kw in _tables():
        if name not in existing:
            op.create_table(name, *columns, **kw)
    if "uploads" in existing:
        _older_uploads({c["name"] for c in inspector.get_columns("uploads")})
    if "messages" in existing:
        _older_messages({c["name"] for c in inspector.get_columns("messages")})
    for name, table, indexed, unique, where in INDEXES:
        if table not in existing or name not in {i["name"] for i in inspector.get_indexes(table)}:
            condition: dict[str, Any] = {}
            if where:
                condition = {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}
            op.create_index(name, table, indexed, unique=unique, **condition)


def _older_uploads(columns: set[str]) -> None:
    """Data dirs from before expiry: their uploads start their grace period now, not in 1970."""
    if "touched_at" not in columns:
        op.add_column("uploads", sa.Column("touched_at", sa.Float(), nullable=False, server_default="0"))
        op.execute(sa.text("UPDATE uploads SET touched_at = :now").bindparams(now=time.time()))


def _older_messages(columns: set[str]) -> None:
    """The first senders were development identities: "customer" the customer, the rest agents."""
    if "sender_role" not in columns:
        op.add_column("messages", _text("sender_name", server_default=""))
        op.add_column("messages", _text("sender_role", server_default=""))
        op.execute("UPDATE messages SET sender_name = upper(substr(sender, 1, 1)) || substr(sender, 2),"
                   " sender_role = CASE sender WHEN 'customer' THEN 'customer' ELSE 'agent' END")


def downgrade() -> None:
    """Back to nothing: every table this revision may have made (the data goes with them)."""
    for name, _columns, _kw in reversed(_tables()):
        op.drop_table(name)
