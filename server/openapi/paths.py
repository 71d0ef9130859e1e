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

import copy
from typing import Any

from server.uploads import tus_protocol as tus
from server.http.inputs import CONVERSATION_ID_PATTERN, MAX_UINT, VISIBLE_PATTERN
from server.config.config_file import Config
from server.conversations.events_multi import MAX_CONVERSATIONS, TICKET_PATH
from server.conversations.messages import MAX_PAGE_SIZE, PAGE_SIZE
from server.auth.tickets import TICKET_TTL

JSON = "application/json"
_ERRORS = {400: "Malformed request: a repeated or array query parameter, a header or body that does not parse",
           401: "Missing, invalid or expired token (`WWW-Authenticate: Bearer`)", 403: "Bad or expired link",
           404: "Not found, or not a conversation of this token (the same answer)",
           409: "Conflict with the current state", 410: "Expired and deleted",
           412: "A tus version other than 1.0.0 (carries `Tus-Version`)", 413: "Too large",
           415: "Type not accepted, or the content does not match the name or declared type",
           422: "Invalid request", 423: "Another request (perhaps on another server process) is writing this upload",
           429: "Too many: see `Retry-After` and the problem's message",
           503: "Server stopping (carries `offset`), or the file storage or the database unreachable "
                "(`storage_unavailable`, `database_unavailable`): retry after `Retry-After`; the bytes stored so far "
                "are kept"}
_INT = {"type": "integer", "minimum": 0, "maximum": MAX_UINT}
_RETRY_AFTER = {"Retry-After": {"required": True, "description": "Seconds to wait", "schema": {"type": "integer"}}}
_TUS = {"Tus-Resumable": {"required": True, "schema": {"type": "string", "const": tus.TUS_VERSION}}}
_FILE_STATUSES = {206: "Part of the file (HTTP range request)", 304: "Not modified (If-None-Match)",
                  416: "Range not satisfiable"}


def digits(maximum: int = MAX_UINT, minimum: int = 0) -> dict[str, Any]:
    """A number in a header as `server.http.inputs.parse_uint` reads it: ASCII digits (leading zeros too), at most 19
    of them, from `minimum` (0 or 1) to `maximum`. A string schema, because a header is text on the wire."""
    s = str(maximum)
    upto = [f"[1-9][0-9]{{0,{len(s) - 2}}}"] if len(s) > 1 else []
    for i, d in enumerate(map(int, s)):
        low = 1 if i == 0 else 0
        if d > low:
            rest = len(s) - i - 1
            upto.append(f"{s[:i]}[{low}-{d - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    upto.append(s)
    pattern = f"0*(?:{'|'.join(upto)})" + ("" if minimum else "|0+")
    return {"type": "string", "pattern": f"^(?:{pattern})$", "maxLength": 19}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_answer(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}, **({"headers": headers} if headers else {})}


def errors(*statuses: int, tus_headers: bool = False, **descriptions: str) -> dict[str, Any]:
    """Error answers: the JSON problem body, with the headers each status carries."""
    out = {}
    for status in statuses:
        headers = dict(_TUS) if tus_headers else {}
        if status == 401:
            headers["WWW-Authenticate"] = {"required": True, "schema": {"type": "string"}}
        if status == 412:
            headers["Tus-Version"] = {"required": True, "schema": {"type": "string", "const": tus.TUS_VERSION}}
        if status in (423, 429, 503):
            headers.update(_RETRY_AFTER)
        out[str(status)] = json_answer(ref("Error"), descriptions.get(f"e{status}", _ERRORS[status]), headers)
    return out


def header(name: str, schema: dict[str, Any], required: bool = True, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema,
            **({"description": description} if description else {})}


def with_head(path_item: dict[str, Any], not_for_head: tuple[str, ...] = ()) -> dict[str, Any]:
    """Starlette answers HEAD wherever it answers GET: the same operation, without bodies."""
    head = copy.deepcopy(path_item["get"])
    head["operationId"] += "Head"
    head["summary"] = "Headers only of: " + head["summary"]
    head["responses"] = {status: {k: v for k, v in answer.items() if k != "content"}
                         for status, answer in head["responses"].items() if status not in not_for_head}
    return {**path_item, "head": head}


def _file(operation_id: str, summary: str, media: str, params: list[dict[str, Any]] = (),
          more: dict[str, Any] | None = None) -> dict[str, Any]:
    """A page file or media file: FileResponse answers conditional and range requests too."""
    answers = {"200": {"description": "The file", "content": {media: {"schema": {"type": "string",
                                                                                 "format": "binary"}}}},
               **{str(s): {"description": d} for s, d in _FILE_STATUSES.items()}, **(more or {})}
    malformed_range = {"text/plain": {"schema": {"type": "string"}}}
    answers["400"] = {"description": "Malformed Range header (plain text)", **answers.get("400", {})}
    answers["400"]["content"] = {**answers["400"].get("content", {}), **malformed_range}
    return with_head({"get": {"operationId": operation_id, "summary": summary, "security": [],
                              "parameters": list(params), "responses": answers}})


def paths(config: Config, keepalive: float) -> dict[str, Any]:
    r = config.restrictions
    cid = {"name": "cid", "in": "path", "required": True, "description": "Conversation id (created on first use)",
           "schema": {"type": "string", "pattern": CONVERSATION_ID_PATTERN}}
    upload_id = {"name": "upload_id", "in": "path", "required": True,
                 "description": "The last segment of the upload's Location", "schema": {"type": "string"}}
    after = {"name": "after", "in": "query", "required": False, "schema": _INT,
             "description": "Only messages with a greater seq"}
    before = {"name": "before", "in": "query", "required": False, "schema": _INT,
              "description": "Only messages with a smaller seq: the `older` of the previous page"}
    limit = {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": PAGE_SIZE},
             "description": "Messages per page"}
    tus_resumable = header("Tus-Resumable", {"type": "string", "const": tus.TUS_VERSION},
                           description="Without it 400; another version 412")
    expires = {"Upload-Expires": {"required": False, "schema": {"type": "string"},
                                  "description": "When the unsent upload is deleted (RFC 9110 date); absent once "
                                                 "a message uses it"}}
    offset = {"Upload-Offset": {"required": True, "schema": _INT, "description": "Bytes the server holds"}}
    tus_options = {"operationId": "tusOptions", "summary": "tus discovery", "security": [], "responses": {
        "204": {"description": "What this server speaks", "headers": {
            **_TUS, "Tus-Version": {"required": True, "schema": {"type": "string", "const": tus.TUS_VERSION}},
            "Tus-Extension": {"required": True, "schema": {"type": "string", "const": tus.TUS_EXTENSIONS}},
            "Tus-Max-Size": {"required": True, "description": "[attachments] max_file_size",
                             "schema": {"type": "integer", "const": r.max_file_size}}}},
        **errors(400, tus_headers=True)}}
    tus_errors = {"tus_headers": True}
    dev = config.auth is None
    event_security = [{"bearer": []}, {"ticket": []}]
    shared = (503,) if config.broker_url is not None else ()     # [broker]: Redis unreachable for a moment
    db = (503,) if config.database_url is not None else ()       # [database]: PostgreSQL unreachable for a moment
    db503 = "The database is unreachable (`database_unavailable`): retry after `Retry-After` seconds"
    e503 = "The broker (Redis) cannot be reached right now: retry after `Retry-After` seconds"
    last_event_id = header("Last-Event-ID", digits(), False, "Overrides `after` (EventSource sends it when "
                                                              "reconnecting)")
    stream_answer = {"description": "An endless event stream", "content": {
        "text/event-stream": {"itemSchema": ref("MessageEvent")}}}
    e429 = f"{config.max_streams_per_identity} streams are open for this user already"
    create_body = {"allOf": [ref("MessageCreate")],
                   "properties": {"attachments": {"maxItems": r.max_files_per_message}},
                   "anyOf": [{"required": ["text"], "properties": {"text": {"pattern": VISIBLE_PATTERN}}},
                             {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}}],
                   "description": "Not empty: some visible text, or at least one attachment"}
    return {
        "/api/restrictions": with_head({"get": {
            "operationId": "getRestrictions", "summary": "What files may be attached", "security": [],
            "responses": {"200": json_answer(ref("Restrictions"), "The server's restrictions"), **errors(400)}}}),
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
                                                  "type that is not accepted (see /api/restrictions) is 415.")],
                "responses": {"201": {"description": "Created", "headers": {
                    **_TUS, "Location": {"required": True, "schema": {"type": "string", "pattern": "^/api/uploads/"},
                                         "description": "Root-relative upload URL"},
                    "Upload-Expires": {**expires["Upload-Expires"], "required": True}}},
                    **errors(400, 401, 412, 413, 415, 422, 429, *db, **tus_errors, e503=db503)}}},
        tus.UPLOADS_PATH + "/{upload_id}": {
            "description": "A tus upload URL; its last segment is what a message's `attachments` lists. "
                           "`POST` with `X-HTTP-Method-Override: PATCH|DELETE|HEAD` works as that method.",
            "parameters": [upload_id],
            "options": {**tus_options, "operationId": "tusOptionsUpload"},
            "head": {"operationId": "getUploadOffset", "summary": "Where to resume", "parameters": [tus_resumable],
                     "responses": {"200": {"description": "The upload's state (no body)", "headers": {
                         **_TUS, **offset, "Upload-Length": {"required": True, "schema": _INT},
                         "Upload-Metadata": {"required": True, "schema": {"type": "string"}}, **expires}},
                         **{s: {k: v for k, v in a.items() if k != "content"}
                            for s, a in errors(400, 401, 404, 410, 412, 503, **tus_errors).items()}}},
            "patch": {"operationId": "appendUpload",
                      "summary": "Append at Upload-Offset; the first 4096 bytes are judged, a refusal terminates",
                      "parameters": [tus_resumable, header("Upload-Offset", digits())],
                      "requestBody": {"required": True, "content": {"application/offset+octet-stream": {
                          "schema": {"type": "string", "format": "binary"}}}},
                      "responses": {"204": {"description": "Stored", "headers": {**_TUS, **offset, **expires}},
                                    **errors(400, 401, 404, 409, 410, 412, 413, 415, 423, 503, **tus_errors,
                                             e409="Offset mismatch (carries the server's `offset`)")}},
            "delete": {"operationId": "terminateUpload", "summary": "tus termination (not once a message uses it)",
                       "parameters": [tus_resumable],
                       "responses": {"204": {"description": "Terminated", "headers": dict(_TUS)},
                                     **errors(400, 401, 404, 409, 410, 412, 423, 503, **tus_errors)}}},
        "/api/conversations/{cid}/restrictions": {
            "parameters": [cid],
            **with_head({"get": {
                "operationId": "getConversationRestrictions",
                "summary": "What files may be attached in this conversation (with [backend] kind = \"twilio\": the "
                           "stricter of the server's rules and the channel's, with `type_limits`, `channel`, `limit`)",
                "responses": {"200": json_answer(ref("Restrictions"), "The conversation's restrictions"),
                              **errors(400, 401, 404),
                              "502": json_answer(ref("Error"), "The bridged service refused or failed (`retryable`)")}}})},
        "/api/conversations/{cid}/messages": {
            "parameters": [cid],
            **with_head({"get": {
                "operationId": "listMessages", "parameters": [before, after, limit],
                "summary": "A page of history: the newest `limit` messages with after < seq < before, oldest first; "
                           "`older` is the next page's `before`",
                "responses": {"200": json_answer(ref("History"), "Messages"),
                              **errors(400, 401, 404, 422, *db, e503=db503)}}}),
            "post": {"operationId": "sendMessage", "summary": "Send; the same idempotency_key returns the same message",
                     "requestBody": {"required": True, "content": {JSON: {"schema": create_body}}},
                     "responses": {"201": json_answer(ref("Message"), "Created"),
                                   "200": json_answer(ref("Message"), "Already sent with this idempotency_key"),
                                   **errors(400, 401, 404, 409, 413, 422, *db, e503=db503,
                                            e409="The key is another sender's, or an attachment is unknown, "
                                                 "expired or unfinished", e413="Body over 1,000,000 bytes")}}},
        "/api/conversations/{cid}/events": with_head({"get": {
            "operationId": "streamEvents",
            "summary": f"Server-Sent Events: one `message` event per new message (`id` = its seq), a `: keepalive` "
                       f"comment every {keepalive:g} s; ends when the token expires",
            "parameters": [cid, after, last_event_id],
            "security": event_security,
            "responses": {"200": stream_answer, **errors(400, 401, 404, 422, 429, *shared, e429=e429, e503=e503)}}},
            not_for_head=("429",)),
        "/api/conversations/{cid}/events/ticket": {"post": {
            "operationId": "createEventsTicket",
            "summary": f"A single-use ticket ({TICKET_TTL} s) to open this conversation's stream", "parameters": [cid],
            "responses": {"200": json_answer(ref("EventsTicket"), "The ticket"),
                          **errors(400, 401, 404, 429, *shared, e429=e429, e503=e503)}}},
        "/api/events": with_head({"get": {
            "operationId": "streamConversations",
            "summary": "Server-Sent Events of every conversation the ticket names, as one stream (counted as one): "
                       "a `message` event per new message in any of them (`id` = its seq, global, so one `after` "
                       f"resumes them all), a `: keepalive` comment every {keepalive:g} s; ends when the token "
                       "that asked for the ticket expires",
            "parameters": [after, last_event_id], "security": [{"ticket": []}],
            "responses": {"200": stream_answer, **errors(400, 401, 422, 429, *shared, e429=e429, e503=e503)}}},
            not_for_head=("429",)),
        TICKET_PATH: {"post": {
            "operationId": "createConversationsTicket",
            "summary": f"A single-use ticket ({TICKET_TTL} s) to open one stream of up to {MAX_CONVERSATIONS} of "
                       "the caller's conversations (`GET /api/events?ticket=`); repeated ids count once",
            "requestBody": {"required": True, "content": {JSON: {"schema": {
                "type": "object", "required": ["conversations"],
                "properties": {"conversations": {
                    "type": "array", "minItems": 1, "maxItems": MAX_CONVERSATIONS,
                    "items": {"type": "string", "pattern": CONVERSATION_ID_PATTERN}}}}}}},
            "responses": {"200": json_answer(ref("EventsTicket"), "The ticket"),
                          **errors(400, 401, 403, 413, 422, 429, *shared, e429=e429, e503=e503,
                                   e403="A conversation the token does not grant (named in `conversation`)",
                                   e413="Body over 1,000,000 bytes")}}},
        "/api/openapi.json": with_head({"get": {
            "operationId": "getOpenAPI", "summary": "This document", "security": [],
            "responses": {"200": json_answer({"type": "object"}, "OpenAPI document"), **errors(400)}}}),
        "/media/{sha256}/{filename}": _file(
            "getMedia", "An attachment's bytes (a signed link from a message, no token)", "*/*",
            [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}},
             {"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}},
             {"name": "c", "in": "query", "required": True, "schema": {"type": "string"},
              "description": "Conversation"},
             {"name": "e", "in": "query", "required": True, "schema": _INT, "description": "Expiry (unix time)"},
             {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}}],
            errors(400, 403, 404, 503, e400="Repeated query parameter, or malformed Range (plain text)",
                   e503="The file storage is unreachable: retry after `Retry-After`")),
        "/thumbnails/{sha256}": _file(
            "getThumbnail", "An image attachment's thumbnail (a signed link from a message, no token)", "image/webp",
            [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}},
             {"name": "c", "in": "query", "required": True, "schema": {"type": "string"},
              "description": "Conversation"},
             {"name": "e", "in": "query", "required": True, "schema": _INT, "description": "Expiry (unix time)"},
             {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}}],
            errors(400, 403, 404, 503, e400="Repeated query parameter, or malformed Range (plain text)",
                   e503="The file storage is unreachable: retry after `Retry-After`")),
        "/attache-config.json": with_head({"get": {
            "operationId": "getPageConfig", "security": [],
            "summary": "What the page needs: " + ("the development identities and their tokens" if dev
                                                  else "where to get a token (none is served)"),
            "responses": {"200": json_answer(ref("PageConfig"), "Page config")}}}),
        "/": _file("getPage", "The page", "text/html", more=errors(404)),
        "/index.html": _file("getIndex", "The page", "text/html", more=errors(404)),
        "/pyscript.toml": _file("getPyScriptConfig", "The page's PyScript config", "application/toml",
                                more=errors(404)),
        "/attache.js": _file("getCanvasElement", "The <attache-canvas> element for portals (CORS for their origins)",
                             "text/javascript", more=errors(404)),
        "/assets/{path}": _file("getAsset", "A hashed, immutable page asset (precompressed when accepted)", "*/*",
                                [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
                                errors(404)),
        **(_twilio_webhook() if config.twilio is not None else {}),
    }


def _twilio_webhook() -> dict[str, Any]:
    """With [backend] kind = "twilio": where Twilio posts onMessageAdded (signed, so no token)."""
    form = {"application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": {
        "type": "string"}}}}
    return {"/twilio/webhook": {"post": {
        "operationId": "twilioWebhook", "security": [],
        "summary": "Twilio Conversations post-event webhook, checked against X-Twilio-Signature",
        "parameters": [header("X-Twilio-Signature", {"type": "string"}),
                       header("I-Twilio-Idempotency-Token", {"type": "string"}, required=False)],
        "requestBody": {"required": True, "content": form},
        "responses": {"200": json_answer({"type": "object"}, "Processed, a repeat, or ignored"),
                      **errors(403), "503": json_answer(ref("Error"), "Twilio's media could not be fetched: retry")}}}}
