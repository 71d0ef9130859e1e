"""Uploads: the service (rules, bytes, completion), server-side ingest, tus protocol and endpoints, quotas, expiry."""
