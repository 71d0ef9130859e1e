"""The SQL of the server before versioned migrations, verbatim: databases "made by today's code" for the tests.

V2 is what the last unversioned server made (store.py's SCHEMA, then migrate.py's
statements, then quotas.py's SCHEMA); V1 is the first data
dirs' shape, without uploads.touched_at and messages.sender_name/sender_role
(the columns the old migrate.py added). Frozen here on purpose: the server no
longer holds this text.
"""

STORE = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,      -- global, never reused
    id TEXT NOT NULL UNIQUE,
    conversation TEXT NOT NULL REFERENCES conversations(id),
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    idempotency_key TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency
    ON messages(conversation, idempotency_key) WHERE idempotency_key != '';
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation, seq);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    declared_type TEXT NOT NULL,
    content_type TEXT NOT NULL,
    "offset" INTEGER NOT NULL DEFAULT 0,
    head_checked INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,                                -- set when complete
    created_at TEXT NOT NULL,
    touched_at REAL NOT NULL DEFAULT 0          -- unix time of the last activity; expiry counts from here
);
CREATE INDEX IF NOT EXISTS uploads_media ON uploads(sha256, name);
CREATE TABLE IF NOT EXISTS attachments (
    message_seq INTEGER NOT NULL REFERENCES messages(seq),
    position INTEGER NOT NULL,
    upload_id TEXT NOT NULL REFERENCES uploads(id),
    PRIMARY KEY (message_seq, position)
);
CREATE TABLE IF NOT EXISTS thumbnails (
    sha256 TEXT PRIMARY KEY,                    -- of the original (media/<sha256>)
    width INTEGER NOT NULL,                     -- 0 x 0: none could be made (a bad or hostile image)
    height INTEGER NOT NULL,
    made_at REAL NOT NULL
);
"""
QUOTAS = """
CREATE TABLE IF NOT EXISTS upload_quota (
    upload_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    at REAL NOT NULL,              -- unix time of creation
    bytes INTEGER NOT NULL         -- declared size; what was received once it is gone unfinished
);
CREATE INDEX IF NOT EXISTS upload_quota_owner ON upload_quota(owner, at);
CREATE INDEX IF NOT EXISTS upload_quota_at ON upload_quota(at);
CREATE INDEX IF NOT EXISTS uploads_open ON uploads(owner, touched_at) WHERE sha256 IS NULL;
"""
V2 = STORE + """
CREATE INDEX IF NOT EXISTS attachments_upload ON attachments(upload_id);
ALTER TABLE messages ADD COLUMN sender_name TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN sender_role TEXT NOT NULL DEFAULT '';
""" + QUOTAS
V1 = STORE.replace(",\n    touched_at REAL NOT NULL DEFAULT 0          -- unix time of the last activity;"
                   " expiry counts from here", "")
