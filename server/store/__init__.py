"""The database: engine, schema, Alembic migrations, the queries (`queries.Store`), the private data dir."""
