"""The OpenAPI paths of uploads: tus 1.0.0 creation, offset, append and termination."""

from __future__ import annotations

from typing import Any

from server.config.config_file import Config
from server.openapi.building_blocks import INT, TUS, database_unavailable, digits, errors, header
from server.uploads import tus_protocol as tus


def upload_paths(config: Config) -> dict[str, Any]:
    r = config.restrictions
    upload_id = {"name": "upload_id", "in": "path", "required": True,
                 "description": "The last segment of the upload's Location", "schema": {"type": "string"}}
    tus_resumable = header("Tus-Resumable", {"type": "string", "const": tus.TUS_VERSION},
                           description="Without it 400; another version 412")
    expires = {"Upload-Expires": {"required": False, "schema": {"type": "string"},
                                  "description": "When the unsent upload is deleted (RFC 9110 date); absent once "
                                                 "a message uses it"}}
    offset = {"Upload-Offset": {"required": True, "schema": INT, "description": "Bytes the server holds"}}
    tus_options = {"operationId": "tusOptions", "summary": "tus discovery", "security": [], "responses": {
        "204": {"description": "What this server speaks", "headers": {
            **TUS, "Tus-Version": {"required": True, "schema": {"type": "string", "const": tus.TUS_VERSION}},
            "Tus-Extension": {"required": True, "schema": {"type": "string", "const": tus.TUS_EXTENSIONS}},
            "Tus-Max-Size": {"required": True, "description": "[attachments] max_file_size",
                             "schema": {"type": "integer", "const": r.max_file_size}}}},
        **errors(400, tus_headers=True)}}
    db, db503 = database_unavailable(config)
    return {
        tus.UPLOADS_PATH: {
            "description": "tus 1.0.0 upload-creation URL (creation, expiration, termination).",
            "options": tus_options,
            "post": {
                "operationId": "createUpload",
                "summary": "tus creation: judged by name, size and declared type before any byte is sent; "
                           "then the quotas (uploads in progress, bytes per 24 hours)",
                "parameters": [tus_resumable,
                               header("Upload-Length", digits(r.max_file_size, 1),
                                      description="The file's size; 0 is 422 (empty), over the limit 413"),
                               header("Upload-Metadata", {"type": "string", "format": "tus-metadata"},
                                      description="tus metadata: `filename` (required) and `filetype` (the "
                                                  "browser's File.type, a MIME type or empty), base64. A name or "
                                                  "type that is not accepted (see /api/restrictions) is 415. "
                                                  "Optional `idempotency-key` (16-128 of A-Z a-z 0-9 - _): a "
                                                  "creation sent again with the key of an earlier one of the same "
                                                  "identity answers 201 with that upload's Location (counted "
                                                  "once); with another file's name or size, 409.")],
                "responses": {"201": {"description": "Created", "headers": {
                    **TUS, "Location": {"required": True, "schema": {"type": "string", "pattern": "^/api/uploads/"},
                                         "description": "Root-relative upload URL"},
                    "Upload-Expires": {**expires["Upload-Expires"], "required": True}}},
                    **errors(400, 401, 409, 412, 413, 415, 422, 429, *db, tus_headers=True, e503=db503,
                             e409="The idempotency-key made the upload of another file")}}},
        tus.UPLOADS_PATH + "/{upload_id}": {
            "description": "A tus upload URL; its last segment is what a message's `attachments` lists. "
                           "`POST` with `X-HTTP-Method-Override: PATCH|DELETE|HEAD` works as that method.",
            "parameters": [upload_id],
            "options": {**tus_options, "operationId": "tusOptionsUpload"},
            "head": {"operationId": "getUploadOffset", "summary": "Where to resume", "parameters": [tus_resumable],
                     "responses": {"200": {"description": "The upload's state (no body)", "headers": {
                         **TUS, **offset, "Upload-Length": {"required": True, "schema": INT},
                         "Upload-Metadata": {"required": True, "schema": {"type": "string"}}, **expires}},
                         **{s: {k: v for k, v in a.items() if k != "content"}
                            for s, a in errors(400, 401, 404, 410, 412, 503, tus_headers=True).items()}}},
            "patch": {"operationId": "appendUpload",
                      "summary": "Append at Upload-Offset; the first 4096 bytes are judged, a refusal terminates",
                      "parameters": [tus_resumable, header("Upload-Offset", digits())],
                      "requestBody": {"required": True, "content": {"application/offset+octet-stream": {
                          "schema": {"type": "string", "format": "binary"}}}},
                      "responses": {"204": {"description": "Stored", "headers": {**TUS, **offset, **expires}},
                                    **errors(400, 401, 404, 409, 410, 412, 413, 415, 423, 503, tus_headers=True,
                                             e409="Offset mismatch (carries the server's `offset`)")}},
            "delete": {"operationId": "terminateUpload", "summary": "tus termination (not once a message uses it)",
                       "parameters": [tus_resumable],
                       "responses": {"204": {"description": "Terminated", "headers": dict(TUS)},
                                     **errors(400, 401, 404, 409, 410, 412, 423, 503, tus_headers=True)}}},
    }
