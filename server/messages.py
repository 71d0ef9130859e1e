"""Conversation history and sending (idempotent).

Why idempotency keys: the outbox retries a send after a network failure
without knowing whether the first attempt landed; the same key returns the
message that exists instead of creating a second one.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.common import ApiError, authenticate, json_body, parse_after
from server.media import Signer

MAX_TEXT = 20_000
MAX_KEY = 200
_CONVERSATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def conversation_id(request: Request) -> str:
    cid = request.path_params["cid"]
    if not _CONVERSATION.match(cid):
        raise ApiError(404, "conversation_not_found", f"{cid!r} is not a valid conversation id.",
                       "Use letters, digits, '.', '_', ':' or '-' (at most 128).")
    return cid


def message_json(m: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """The contract's Message JSON; attachment URLs are signed here, never stored."""
    return {**m, "attachments": [
        {"id": u.id, "name": u.name, "size": u.size, "content_type": u.content_type,
         "url": signer.url(u.sha256, u.name)} for u in m["attachments"]]}


async def history(request: Request) -> Response:
    """GET /api/conversations/{cid}/messages[?after=seq]"""
    authenticate(request)
    cid = conversation_id(request)
    after = parse_after(request.query_params.get("after"))
    state = request.app.state
    return JSONResponse({"messages": [message_json(m, state.signer) for m in state.store.messages(cid, after)]})


async def send(request: Request) -> Response:
    """POST /api/conversations/{cid}/messages"""
    identity = authenticate(request)
    cid = conversation_id(request)
    body = await json_body(request)
    state = request.app.state
    key, text, ids = body.get("idempotency_key", ""), body.get("text", ""), body.get("attachments", [])
    if not isinstance(key, str) or len(key) > MAX_KEY:
        raise ApiError(422, "invalid_idempotency_key", f"'idempotency_key' must be a string of at most {MAX_KEY}.")
    existing = state.store.find_by_key(cid, key)
    if existing is not None:
        if existing["sender"] != identity:
            raise ApiError(409, "idempotency_key_conflict", "This idempotency key belongs to another sender.",
                           "Use a fresh random key per message.")
        return JSONResponse(message_json(existing, state.signer), status_code=200)
    if not isinstance(text, str):
        raise ApiError(422, "invalid_text", "'text' must be a string.")
    if len(text) > MAX_TEXT:
        raise ApiError(422, "text_too_long", f"The message is {len(text)} characters; the limit is {MAX_TEXT}.",
                       "Split it into several messages.")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(422, "invalid_attachments", "'attachments' must be a list of upload ids.")
    if not text.strip() and not ids:
        raise ApiError(422, "empty_message", "The message is empty.", "Write something or attach a file.")
    limit = state.config.restrictions.max_files_per_message
    if len(ids) > limit:
        raise ApiError(422, "too_many_files", f"{len(ids)} files attached; the limit is {limit} per message.",
                       "Send the other files in another message.")
    uploads = []
    for upload_id in ids:
        u = state.store.get_upload(upload_id)
        if u is None or u.owner != identity:
            raise ApiError(422, "unknown_upload", f"Upload {upload_id} does not exist.", "Upload the file again.")
        if not u.complete:
            raise ApiError(422, "upload_incomplete", f"{u.name} is not fully uploaded ({u.offset} of {u.size} bytes).",
                           "Finish the upload, then send again.")
        uploads.append(u)
    message, created = state.store.add_message(cid, identity, text, key, uploads)
    data = message_json(message, state.signer)
    if created:
        state.broker.publish(cid, data)
    return JSONResponse(data, status_code=201 if created else 200)
