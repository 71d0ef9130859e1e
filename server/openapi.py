"""The OpenAPI 3.1 description of the API, written by hand.

Why by hand: Starlette's SchemaGenerator needs PyYAML (not a dependency) and
only copies docstring fragments; a plain dict is reviewable in one place and
a test checks every /api route appears here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Malformed request", 401: "Missing, invalid or expired token", 403: "Bad or expired link",
            404: "Not found (or not a conversation of this token)", 429: "Too many (see Retry-After)",
            409: "Conflict (offset_mismatch carries the server's `offset`)", 410: "Expired and deleted",
            412: "Not tus 1.0.0 (carries `Tus-Version`)", 413: "Too large",
            415: "Type not accepted or content does not match the name", 422: "Invalid request",
            503: "Server stopping; the bytes so far are kept (carries `offset`)"}
    return {str(s): _json(_ref("Error"), text[s]) for s in statuses}


_CID = {"name": "cid", "in": "path", "required": True, "description": "Conversation id; created on first use",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"}}
_UPLOAD_ID = {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "string"}}
_AFTER = {"name": "after", "in": "query", "required": False, "description": "Only messages with a greater seq",
          "schema": {"type": "integer", "minimum": 0}}
_BEFORE = {"name": "before", "in": "query", "required": False,
           "description": "Only messages with a smaller seq: the `older` of the previous page",
           "schema": {"type": "integer", "minimum": 0}}
_LIMIT = {"name": "limit", "in": "query", "required": False, "description": "Messages per page",
          "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}}
_INT = {"schema": {"type": "integer", "minimum": 0}}
_OFFSET = {"Upload-Offset": {"description": "Bytes the server holds", **_INT}}
_EXPIRES = {"Upload-Expires": {"description": "When an unsent upload is deleted (RFC 9110 date); absent once a "
                                              "message uses it", "schema": {"type": "string"}}}
_TUS_RESUMABLE = {"name": "Tus-Resumable", "in": "header", "required": True,
                  "schema": {"type": "string", "const": "1.0.0"}}
_TUS_UPLOAD = ("tus 1.0.0 upload URL (core, creation, expiration, termination); the id is what a message's "
               "`attachments` lists. Errors carry the JSON `Error`.")

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "hint"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "hint": {"type": "string"},
                       "offset": {"type": "integer",
                                  "description": "With offset_mismatch and server_stopping"}}}}},
    "Restrictions": {"type": "object", "required": ["max_file_size", "accepted_types", "max_files_per_message"],
                     "properties": {"max_file_size": {"type": "integer", "description": "bytes"},
                                    "accepted_types": {"type": "array", "items": {"type": "string"},
                                                       "description": "MIME types, 'image/*' or '.ext'; empty = all"},
                                    "max_files_per_message": {"type": "integer"}}},
    "Attachment": {"type": "object", "required": ["id", "name", "size", "content_type", "url"],
                   "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "size": {"type": "integer"},
                                  "content_type": {"type": "string"},
                                  "url": {"type": "string", "description": "Signed, root-relative media URL"},
                                  "thumbnail": {"anyOf": [_ref("Thumbnail"), {"type": "null"}],
                                                "description": "null: none (not a raster image, or a bad one)"}}},
    "Thumbnail": {"type": "object", "required": ["url", "width", "height"],
                  "properties": {"url": {"type": "string", "description": "Signed, root-relative WebP URL"},
                                 "width": {"type": "integer", "minimum": 1},
                                 "height": {"type": "integer", "minimum": 1}}},
    "Message": {"type": "object",
                "required": ["id", "seq", "conversation", "sender", "sender_name", "sender_role", "text",
                             "created_at", "idempotency_key", "attachments"],
                "properties": {"id": {"type": "string"}, "seq": {"type": "integer"},
                               "conversation": {"type": "string"},
                               "sender": {"type": "string", "description": "The sender's stable id (token sub)"},
                               "sender_name": {"type": "string"},
                               "sender_role": {"type": "string", "enum": ["agent", "customer"]},
                               "text": {"type": "string"},
                               "created_at": {"type": "string", "format": "date-time"},
                               "idempotency_key": {"type": "string"},
                               "attachments": {"type": "array", "items": _ref("Attachment")}}},
    "MessageCreate": {"type": "object",
                      "properties": {"idempotency_key": {"type": "string", "maxLength": 200},
                                     "text": {"type": "string", "maxLength": 20000},
                                     "attachments": {"type": "array", "items": {"type": "string"},
                                                     "description": "ids of complete uploads"}}},
    "History": {"type": "object", "required": ["messages", "older"],
                "properties": {"messages": {"type": "array", "items": _ref("Message")},
                               "older": {"type": ["string", "null"],
                                         "description": "`before` of the older page; null at the start"}}},
}

PATHS: dict[str, Any] = {
    "/api/restrictions": {"get": {
        "operationId": "getRestrictions", "summary": "What files may be attached", "security": [],
        "responses": {"200": _json(_ref("Restrictions"), "The server's restrictions")}}},
    "/api/uploads": {
        "options": {"operationId": "tusOptions", "summary": "tus discovery", "security": [],
                    "responses": {"204": {"description": "What this server speaks", "headers": {
                        "Tus-Version": {"schema": {"type": "string", "const": "1.0.0"}},
                        "Tus-Extension": {"schema": {"type": "string", "const": "creation,expiration,termination"}},
                        "Tus-Max-Size": {"description": "[attachments] max_file_size", **_INT}}}}},
        "post": {
            "operationId": "createUpload", "description": _TUS_UPLOAD,
            "summary": "tus creation, judged by name, size and declared type before any byte is sent",
            "parameters": [_TUS_RESUMABLE,
                           {"name": "Upload-Length", "in": "header", "required": True, **_INT},
                           {"name": "Upload-Metadata", "in": "header", "required": True,
                            "description": "`filename` (required) and `filetype` (File.type), base64",
                            "schema": {"type": "string"}}],
            "responses": {"201": {"description": "Created", "headers": {
                "Location": {"description": "Root-relative upload URL /api/uploads/<id>",
                             "schema": {"type": "string"}}, **_EXPIRES}},
                **_errors(400, 401, 412, 413, 415, 422)}}},
    "/api/uploads/{upload_id}": {
        "parameters": [_UPLOAD_ID],
        "head": {"operationId": "getUploadOffset", "summary": "Where to resume", "parameters": [_TUS_RESUMABLE],
                 "responses": {"200": {"description": "Current state (no body)", "headers": {
                     **_OFFSET, "Upload-Length": _INT, "Upload-Metadata": {"schema": {"type": "string"}},
                     **_EXPIRES}}, "401": {"description": "Missing or unknown token"},
                     "404": {"description": "Unknown, another owner's, or terminated"},
                     "410": {"description": "Expired and deleted"}, "412": {"description": "Not tus 1.0.0"}}},
        "patch": {"operationId": "appendUpload",
                  "summary": "Append bytes at Upload-Offset; the first 4096 bytes are sniffed, a refusal terminates",
                  "parameters": [_TUS_RESUMABLE, {"name": "Upload-Offset", "in": "header", "required": True, **_INT}],
                  "requestBody": {"required": True, "content": {"application/offset+octet-stream": {
                      "schema": {"type": "string", "format": "binary"}}}},
                  "responses": {"204": {"description": "Bytes stored", "headers": {**_OFFSET, **_EXPIRES}},
                                **_errors(400, 401, 404, 409, 410, 412, 413, 415, 503)}},
        "delete": {"operationId": "terminateUpload", "summary": "tus termination (not once a message uses it)",
                   "parameters": [_TUS_RESUMABLE],
                   "responses": {"204": {"description": "Terminated"}, **_errors(401, 404, 409, 410, 412)}},
        "options": {"operationId": "tusOptionsUpload", "summary": "tus discovery", "security": [],
                    "responses": {"204": {"description": "As OPTIONS /api/uploads"}}}},
    "/api/conversations/{cid}/messages": {
        "parameters": [_CID],
        "get": {"operationId": "listMessages", "parameters": [_BEFORE, _AFTER, _LIMIT],
                "summary": "A page of history: the newest `limit` messages with after < seq < before, oldest first",
                "responses": {"200": _json(_ref("History"), "Messages"), **_errors(401, 404, 422)}},
        "post": {"operationId": "sendMessage", "summary": "Send; the same idempotency_key returns the same message",
                 "requestBody": {"required": True,
                                 "content": {"application/json": {"schema": _ref("MessageCreate")}}},
                 "responses": {"201": _json(_ref("Message"), "Created"),
                               "200": _json(_ref("Message"), "Already sent with this idempotency_key"),
                               **_errors(400, 401, 404, 409, 413, 422)}}},
    "/api/conversations/{cid}/events": {"get": {
        "operationId": "streamEvents",
        "summary": "Server-Sent Events: `id: <seq>`, `event: message`, `data: <Message>`; keepalive every 15 s",
        "parameters": [_CID, _AFTER,
                       {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "integer"}},
                       {"name": "ticket", "in": "query", "required": False, "schema": {"type": "string"},
                        "description": "Single-use ticket from POST .../events/ticket (EventSource sends no headers)"},
                       {"name": "access_token", "in": "query", "required": False, "schema": {"type": "string"},
                        "description": "Development mode only (no [auth]): the bearer token"}],
        "security": [{"bearer": []}, {"ticket": []}, {"query_token": []}],
        "responses": {"200": {"description": "An endless event stream",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                      **_errors(400, 401, 404, 422, 429)}}},
    "/api/conversations/{cid}/events/ticket": {"post": {
        "operationId": "createEventsTicket", "summary": "A single-use ticket (30 s) to open this conversation's stream",
        "parameters": [_CID],
        "responses": {"200": _json({"type": "object", "required": ["ticket", "expires_in"],
                                    "properties": {"ticket": {"type": "string"},
                                                   "expires_in": {"type": "integer", "description": "seconds"}}},
                                   "The ticket"), **_errors(400, 401, 404)}}},
    "/api/openapi.json": {"get": {
        "operationId": "getOpenAPI", "summary": "This document", "security": [],
        "responses": {"200": {"description": "OpenAPI document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/media/{sha256}/{filename}": {"get": {
        "operationId": "getMedia", "summary": "An attachment's bytes (signed URL, no token)", "security": [],
        "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "c", "in": "query", "required": True, "schema": {"type": "string"}},
                       {"name": "e", "in": "query", "required": True, "schema": {"type": "integer"}},
                       {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "The file, inline only for safe types",
                              "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                      **_errors(403, 404)}}},
    "/thumbnails/{sha256}": {"get": {
        "operationId": "getThumbnail", "summary": "An image attachment's thumbnail (signed URL, no token)",
        "security": [],
        "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "c", "in": "query", "required": True, "schema": {"type": "string"}},
                       {"name": "e", "in": "query", "required": True, "schema": {"type": "integer"}},
                       {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "WebP, at most 480 px on its longer side",
                              "content": {"image/webp": {"schema": {"type": "string", "format": "binary"}}}},
                      **_errors(403, 404)}}},
    "/attache-config.json": {"get": {
        "operationId": "getPageConfig", "summary": "Page config with dev tokens (dev convenience)", "security": [],
        "responses": {"200": {"description": "Page config",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Attache reference server", "version": "1.0.0",
             "description": "Conversations with file attachments; see docs/CONTRACT.md."},
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "ticket": {"type": "apiKey", "in": "query", "name": "ticket"},
                            "query_token": {"type": "apiKey", "in": "query", "name": "access_token"}},
    },
    "security": [{"bearer": []}],
}


async def openapi(request: Request) -> Response:
    """GET /api/openapi.json"""
    return JSONResponse(DOCUMENT)
