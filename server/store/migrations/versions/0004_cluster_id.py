"""Revision 4: `cluster.id`, a random name drawn once per database: the processes that share the
database are one cluster, and their keys and channel in Redis are named after it.

Why: two deployments that share one Redis database (staging and production, say) would otherwise
wake each other's streams, share stream counts per identity name and, worse, redeem each other's
stream tickets. A name drawn in the database follows the cluster wherever its processes run, whatever
host name each gives the database.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "cluster" not in set(sa.inspect(op.get_bind()).get_table_names()):
        cluster = op.create_table("cluster", sa.Column("id", sa.Text(), primary_key=True))
        op.bulk_insert(cluster, [{"id": uuid.uuid4().hex[:16]}])


def downgrade() -> None:
    op.drop_table("cluster")
