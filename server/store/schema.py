"""The tables as the queries see them (names and the types results need); the DDL is in migrations/.

Why lightweight `table()` clauses and not full Table objects: the schema's one
definition is the migration that made it (migrations/versions/), so a column
is declared there once and only named here.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, Text, column, table

cluster = table("cluster", column("id", Text))
conversations = table("conversations", column("id", Text), column("created_at", Text))
messages = table(
    "messages", column("seq", BigInteger), column("id", Text), column("conversation", Text), column("sender", Text),
    column("sender_name", Text), column("sender_role", Text), column("text", Text), column("created_at", Text),
    column("idempotency_key", Text), column("update_of", Text))
uploads = table(
    "uploads", column("id", Text), column("owner", Text), column("name", Text), column("size", BigInteger),
    column("declared_type", Text), column("content_type", Text), column("offset", BigInteger),
    column("head_checked", Integer), column("sha256", Text), column("created_at", Text), column("touched_at", Float),
    column("creation_key", Text))
attachments = table("attachments", column("message_seq", BigInteger), column("position", Integer),
                    column("upload_id", Text))
thumbnails = table("thumbnails", column("sha256", Text), column("width", Integer), column("height", Integer),
                   column("made_at", Float))
upload_quota = table("upload_quota", column("upload_id", Text), column("owner", Text), column("at", Float),
                     column("bytes", BigInteger))
twilio_sends = table(
    "twilio_sends", column("conversation", Text), column("idempotency_key", Text), column("part", Integer),
    column("state", Text), column("media_sid", Text), column("message_sid", Text), column("message_index", Integer),
    column("created_at", Text), column("updated_at", Text))
twilio_webhooks = table("twilio_webhooks", column("token", Text), column("message_sid", Text),
                        column("processed_at", Text))
twilio_history = table(
    "twilio_history", column("conversation", Text), column("cursor", Text), column("complete", Integer),
    column("newest_index", Integer), column("oldest_index", Integer), column("refreshed_at", Float))
twilio_seen = table("twilio_seen", column("conversation", Text), column("message_sid", Text),
                    column("twilio_index", Integer), column("message_seq", BigInteger))
