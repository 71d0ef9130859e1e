"""Conversation history and sending (idempotent).

Why idempotency keys: the outbox retries a send after a network failure
without knowing whether the first attempt landed; the same key returns the
message that exists instead of creating a second one.

Why membership first: every route checks that the conversation is among the
token's `conversations` before anything else about it, and answers 404 when it
is not, so a user learns nothing about conversations that are not theirs.
Why shape before rules: a body is checked field by field (types, lengths)
before any rule or lookup runs, so a malformed request is always 422.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core import schemas
from app.core.wire import encode
from server.auth.principals import Principal, authenticate, require_member, upload_owner
from server.http.api_error import ApiError
from server.http.inputs import CONVERSATION_ID, VISIBLE, parse_after, parse_uint
from server.http.json_body import json_body
from server.media.link_signer import Signer
from server.services import Services
from server.store.rows import UploadRow

MAX_TEXT = 20_000
MAX_KEY = 200
PAGE_SIZE = 100         # messages per history page unless `limit` says
MAX_PAGE_SIZE = 500


def conversation_id(request: Request) -> str:
    cid = request.path_params["cid"]
    if not CONVERSATION_ID.match(cid):
        raise ApiError(404, "conversation_not_found", f"{cid!r} is not a valid conversation id.",
                       "Use letters, digits, '.', '_', ':' or '-' (at most 128).")
    return cid


def member_conversation(request: Request, principal: Principal) -> str:
    """The path's conversation id, once the principal is known to belong to it (else 404)."""
    cid = conversation_id(request)
    require_member(principal, cid)
    return cid


def message_json(m: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """The stored message `m` as `schemas.Message` JSON; attachment URLs are signed here (with an expiry),
    never stored."""
    return encode(message_wire(m, signer))


def message_wire(m: dict[str, Any], signer: Signer) -> schemas.Message:
    cid = m["conversation"]
    return schemas.Message(
        id=m["id"], seq=m["seq"], conversation=cid, sender=m["sender"], sender_name=m["sender_name"],
        sender_role=m["sender_role"], text=m["text"], created_at=m["created_at"],
        idempotency_key=m["idempotency_key"],
        attachments=tuple(attachment_wire(u, cid, signer) for u in m["attachments"]))


def attachment_wire(u: UploadRow, cid: str, signer: Signer) -> schemas.Attachment:
    """`thumbnail` is null when the file has none (not a raster image, a bad one, or not made yet);
    `thumbnail_pending` says "not made yet": the message comes again as an update when it is."""
    sha256 = u.sha256
    assert sha256 is not None, "a sent file is complete, so its content has a name"
    thumbnail = None if u.thumbnail is None else schemas.Thumbnail(
        signer.thumbnail_url(cid, sha256), width=u.thumbnail[0], height=u.thumbnail[1])
    return schemas.Attachment(u.id, u.name, u.size, u.content_type, signer.url(cid, sha256, u.name),
                              thumbnail=thumbnail, thumbnail_pending=u.thumbnail_pending)


def history_json(messages: list[dict[str, Any]], older: int | None, signer: Signer) -> dict[str, Any]:
    """A page as `schemas.History` JSON: `older` is the next page's `before`, null at the start."""
    return encode(schemas.History(tuple(message_wire(m, signer) for m in messages),
                                  None if older is None else str(older)))


async def conversation_restrictions(request: Request, state: Services) -> Response:
    """GET /api/conversations/{cid}/restrictions: what may be attached here.

    The server's own rules, or with a bridged Twilio conversation the stricter
    of those and its channel's (named in `channel`), so the page refuses a file
    before a byte of it leaves the browser.
    """
    cid = member_conversation(request, authenticate(request, state.config))
    if state.twilio is not None:
        return JSONResponse(await state.twilio.restrictions(cid), headers={"Cache-Control": "no-store"})
    return JSONResponse(state.config.restrictions.to_json(), headers={"Cache-Control": "no-store"})


async def history(request: Request, state: Services) -> Response:
    """GET /api/conversations/{cid}/messages[?before=seq][&after=seq][&limit=n]

    A page of the newest `limit` messages with after < seq < before, oldest
    first, and `older`: the `before` of the page older than this one, or null
    at the start of the conversation (or of the `after` range).
    """
    cid = member_conversation(request, authenticate(request, state.config))
    q = request.query_params
    after = parse_after(q.get("after"))
    before = _seq_param(q.get("before"), "before")
    asked = _seq_param(q.get("limit"), "limit")
    limit = PAGE_SIZE if asked is None else asked
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ApiError(422, "invalid_limit", f"'limit' must be from 1 to {MAX_PAGE_SIZE}, not {limit}.")
    if state.twilio is not None:      # Twilio's earlier messages are read in as the page scrolls up
        return JSONResponse(await state.twilio.page(cid, before=before, after=after, limit=limit))
    return JSONResponse(page_json(state, cid, before=before, after=after, limit=limit))


def page_json(state: Services, cid: str, *, before: int | None = None, after: int | None = None,
              limit: int = PAGE_SIZE) -> dict[str, Any]:
    """A page of the history as the API answers it (the first paint draws the newest one)."""
    messages, older = state.store.page(cid, before=before, after=after, limit=limit)
    return history_json(messages, older, state.signer)


def _seq_param(value: str | None, name: str) -> int | None:
    """`?before=` / `?limit=`: ASCII digits (server.http.inputs.parse_uint), else 422 invalid_<name>."""
    return None if value is None else parse_uint(value, f"'{name}'", 422, f"invalid_{name}")


def _shape(body: dict[str, Any], max_files: int) -> tuple[str, str, list[str]]:
    """(key, text, upload ids) once the body fits `MessageCreate` (and is not empty); 422 otherwise.

    Exactly what the OpenAPI document says of the body, all before any lookup,
    so a resend of a key never excuses a malformed body.
    """
    key, text, ids = body.get("idempotency_key"), body.get("text", ""), body.get("attachments", [])
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise ApiError(422, "invalid_idempotency_key",
                       f"'idempotency_key' must be a string of 1 to {MAX_KEY} characters.",
                       "Send a fresh random key with each new message, and the same key when retrying it.")
    if not isinstance(text, str):
        raise ApiError(422, "invalid_text", "'text' must be a string.")
    if len(text) > MAX_TEXT:
        raise ApiError(422, "text_too_long", f"The message is {len(text)} characters; the limit is {MAX_TEXT}.",
                       "Split it into several messages.")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(422, "invalid_attachments", "'attachments' must be a list of upload ids.")
    if not ids and not VISIBLE.search(text):
        raise ApiError(422, "empty_message", "The message is empty.", "Write something or attach a file.")
    if len(ids) > max_files:
        raise ApiError(422, "too_many_files", f"{len(ids)} files attached; the limit is {max_files} per message.",
                       "Send the other files in another message.")
    return key, text, ids


async def send(request: Request, state: Services) -> Response:
    """POST /api/conversations/{cid}/messages"""
    principal = authenticate(request, state.config)
    cid = member_conversation(request, principal)
    key, text, ids = _shape(await json_body(request), state.config.restrictions.max_files_per_message)
    if state.twilio is not None:      # Twilio is never asked twice for one key: a stored message answers first
        existing = state.store.find_by_key(cid, key)
        if existing is not None:
            return _sent_before(existing, principal, state)
    uploads, found = [], state.store.uploads_to_send(ids)
    for upload_id in ids:     # 409: the upload's state (gone, unfinished) is what stands in the way
        u = found.get(upload_id)
        if u is None or u.owner != upload_owner(principal):
            raise ApiError(409, "unknown_upload", f"Upload {upload_id[:64]} does not exist (or expired).",
                           "Upload the file again.")
        if not u.complete:
            raise ApiError(409, "upload_incomplete", f"{u.name} is not fully uploaded ({u.offset} of {u.size} bytes).",
                           "Finish the upload, then send again.")
        uploads.append(u)
    if state.twilio is not None:      # Twilio first (idempotent by key); stored here once it has it
        await state.twilio.send(cid, principal, text, uploads, key)
    # a resend is found by the key's unique index as it is inserted: it costs no statement before
    message, created = state.store.add_message(cid, principal.sub, text, key, uploads,
                                               sender_name=principal.name, sender_role=principal.role)
    if not created:
        return _sent_before(message, principal, state)
    data = message_json(message, state.signer)
    state.broker.publish(cid, data)
    state.thumbnails.watch(message["attachments"])   # they follow as update events, never waited for
    return JSONResponse(data, status_code=201)


def _sent_before(existing: dict[str, Any], principal: Principal, state: Services) -> Response:
    """A resend of a stored message (same key): that message, 200; another sender's key is a conflict."""
    if existing["sender"] != principal.sub:
        raise ApiError(409, "idempotency_key_conflict", "This idempotency key belongs to another sender.",
                       "Use a fresh random key per message.")
    return JSONResponse(message_json(existing, state.signer), status_code=200)
