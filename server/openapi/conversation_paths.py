"""The OpenAPI paths of conversations: their restrictions, messages, event streams and tickets."""

from __future__ import annotations

from typing import Any

from server.auth.tickets import TICKET_TTL
from server.config.config_file import Config
from server.conversations.events_multi import MAX_CONVERSATIONS, TICKET_PATH
from server.conversations.messages import MAX_PAGE_SIZE, PAGE_SIZE
from server.http.inputs import CONVERSATION_ID_PATTERN, VISIBLE_PATTERN
from server.openapi.building_blocks import (
    INT,
    JSON,
    database_unavailable,
    digits,
    errors,
    header,
    json_answer,
    ref,
    with_head,
)


def conversation_paths(config: Config, keepalive: float) -> dict[str, Any]:
    r = config.restrictions
    cid = {"name": "cid", "in": "path", "required": True, "description": "Conversation id (created on first use)",
           "schema": {"type": "string", "pattern": CONVERSATION_ID_PATTERN}}
    after = {"name": "after", "in": "query", "required": False, "schema": INT,
             "description": "Only messages with a greater seq"}
    before = {"name": "before", "in": "query", "required": False, "schema": INT,
              "description": "Only messages with a smaller seq: the `older` of the previous page"}
    limit = {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": PAGE_SIZE},
             "description": "Messages per page"}
    event_security: list[dict[str, list[str]]] = [{"bearer": []}, {"ticket": []}]
    shared = (503,) if config.broker_url is not None else ()     # [broker]: Redis unreachable for a moment
    db, db503 = database_unavailable(config)
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
        "/api/conversations/{cid}/restrictions": {
            "parameters": [cid],
            **with_head({"get": {
                "operationId": "getConversationRestrictions",
                "summary": "What files may be attached in this conversation (with [backend] kind = \"twilio\": the "
                           "stricter of the server's rules and the channel's, with `type_limits`, `channel`, `limit`)",
                "responses": {"200": json_answer(ref("Restrictions"), "The conversation's restrictions"),
                              **errors(400, 401, 404),
                              "502": json_answer(ref("Error"),
                                                 "The bridged service refused or failed (`retryable`)")}}})},
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
    }
