"""Alembic's entry point, run by server/store/migrate.py on a connection that already holds the migration lock.

Why no alembic.ini: the server runs migrations itself at start (`upgrade`),
inside its own transaction, so the URL and the connection come from the
server's config, never from a second file that could disagree.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():      # a no-op: the caller's transaction (and lock) is already open
    context.run_migrations()
