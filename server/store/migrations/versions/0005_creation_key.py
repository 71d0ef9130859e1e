"""Revision 5: `uploads.creation_key`, unique per owner: a tus creation sent again (its answer was lost,
or the page was reloaded or the send cancelled while it was on its way) names the upload the first one
made instead of making another, which would count against the owner's open uploads until it expired.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "creation_key" not in {c["name"] for c in inspector.get_columns("uploads")}:
        op.add_column("uploads", sa.Column("creation_key", sa.Text()))     # NULL: a creation without one
    if "uploads_creation_key" not in {i["name"] for i in inspector.get_indexes("uploads")}:
        op.create_index("uploads_creation_key", "uploads", ["owner", "creation_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uploads_creation_key", "uploads")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("creation_key")
