"""Real services started as subprocesses for the tests and the benches alike: the reference server, PostgreSQL,
Redis, an S3 stand-in, Synapse, and the Chromium flags. Nothing here imports pytest or tests/."""
