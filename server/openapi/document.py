"""The OpenAPI 3.2 document of this server, generated.

Why generated: the JSON shapes are defined once, as wire dataclasses
(`app.core.schemas`, which the browser adapter decodes with), so the
document's `components.schemas` come from `app.core.wire.json_schemas`, and
the operations (server.openapi.paths) are built from the running config. A
hand-kept copy drifted (the events stream was "one string"); this one cannot
disagree with the adapter about a field, and `tests/server/test_openapi.py`
checks every route appears with its methods and that real answers validate.

Why 3.2: it is the version that can say what each Server-Sent Event of a
`text/event-stream` holds (`itemSchema`): here an event whose `data` is a
Message in JSON.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core import schemas
from app.core.wire import json_schemas
from server.config.config_file import Config
from server.openapi.building_blocks import ref
from server.openapi.paths import paths

VERSION = "3.2.0"


_MESSAGE_EVENT = {
    "description": "One Server-Sent Event of a conversation's stream. `retry:` and `: keepalive` lines carry "
                   "no data and are not events.",
    "type": "object", "required": ["event", "data", "id"],
    "properties": {
        "event": {"type": "string", "enum": ["message", "update"],
                  "description": "`message`: a new message; `update`: a message sent before, as it is now "
                                 "(e.g. its photo's thumbnail was made): replace the copy you hold"},
        "id": {"type": "string", "pattern": "^[0-9]+$",
               "description": "The event's seq (a message's own seq; an update's is newer): Last-Event-ID, `after`"},
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": ref("Message")},
        "retry": {"type": "integer", "minimum": 0},
    },
}


def _page_config(config: Config) -> dict[str, Any]:
    """GET /attache-config.json, as server.page.static_site.page_config writes it for this mode."""
    dev = config.auth is None
    identity: dict[str, Any] = {"type": "object", "additionalProperties": False, "required": ["token", "name"],
                "properties": {"token": {"type": "string"}, "name": {"type": "string"}}}
    credentials = ({"identities": {"type": "object", "additionalProperties": identity,
                                   "description": "Development only: identity name -> its token"}} if dev else
                   {"token_url": {"type": "string", "description": "Where the page gets a token ([auth] token_url)"}})
    backend = {"type": "object", "additionalProperties": False,
               "required": ["adapter", "base_url", "conversation", *credentials],
               "properties": {"adapter": {"type": "string", "const": "reference"}, "base_url": {"type": "string"},
                              "conversation": {"type": "string"}, **credentials}}
    if config.matrix is not None:   # the page talks to the homeserver (server/config/matrix_config.py)
        if dev:
            identity["properties"]["user_id"] = {"type": "string"}
        backend = {"type": "object", "additionalProperties": False,
                   "required": ["adapter", "homeserver", "room", "attachments", *credentials],
                   "properties": {"adapter": {"type": "string", "const": "matrix"},
                                  "homeserver": {"type": "string", "format": "uri"}, "room": {"type": "string"},
                                  "attachments": ref("Restrictions"), **credentials}}
    return {"type": "object", "additionalProperties": False, "required": ["mode", "backend"],
            "properties": {"mode": {"type": "string", "const": config.mode}, "backend": backend}}


def components(config: Config) -> dict[str, Any]:
    found = json_schemas(*schemas.ALL)
    return {**found, "MessageEvent": _MESSAGE_EVENT, "PageConfig": _page_config(config)}


def document(config: Config, keepalive: float = 15.0) -> dict[str, Any]:
    """The whole document for a server running `config`."""
    dev = config.auth is None
    security_schemes: dict[str, Any] = {
        "bearer": {"type": "http", "scheme": "bearer", **({} if dev else {"bearerFormat": "JWT"}),
                   "description": "A development identity's token ([identities])" if dev else
                                  "An HS256 JWT the portal mints (sub, name, role, conversations, exp)"},
        "ticket": {"type": "apiKey", "in": "query", "name": "ticket",
                   "description": "From POST .../events/ticket (EventSource sends no headers); empty = none"}}
    return {
        "openapi": VERSION,
        "info": {"title": "Attache reference server", "version": "2.0.0",
                 "description": f"Conversations with file attachments; uploads speak tus 1.0.0. Mode: {config.mode}. "
                                "Errors are `Error` JSON problems. See docs/api.md."},
        "paths": paths(config, keepalive),
        "components": {"schemas": components(config), "securitySchemes": security_schemes},
        "security": [{"bearer": []}],
    }


class OpenApiEndpoint:
    """GET /api/openapi.json (`get`): the document for this app's config, built at its first request."""

    def __init__(self, config: Config, keepalive: float) -> None:
        self.config, self.keepalive = config, keepalive
        self._document: dict[str, Any] | None = None

    async def get(self, request: Request) -> Response:
        if self._document is None:
            self._document = document(self.config, self.keepalive)
        return JSONResponse(self._document)
