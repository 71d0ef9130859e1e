"""The operations of the OpenAPI document, one entry per route and method of `server.app`.

Why functions of the config: the document is exact for the server that
serves it, so the numbers a client can rely on (Tus-Max-Size, the files per
message, which credentials the events stream takes in development) come
from the same `Config` the handlers read. Bodies and answers refer to the
wire schemas in `components` (server.openapi.document); every status a handler or
middleware can answer is listed, and `tests/server/test_openapi.py` checks
that the routes and these paths agree.
"""

from __future__ import annotations

from typing import Any

from server.config.config_file import Config
from server.openapi.conversation_paths import conversation_paths
from server.openapi.public_paths import public_paths
from server.openapi.upload_paths import upload_paths


def paths(config: Config, keepalive: float) -> dict[str, Any]:
    """Every path, by area (building_blocks.py holds what they share)."""
    public = public_paths(config)
    return {"/api/restrictions": public.pop("/api/restrictions"), **upload_paths(config),
            **conversation_paths(config, keepalive), **public}
