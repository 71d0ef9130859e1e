"""`POST {public_url}/twilio/webhook`: Twilio's post-event `onMessageAdded`, made into our message.

Order matters: the signature is checked first (against `public_url`, the URL
Twilio signed, not the one we happen to be reached at behind a proxy), and a
refused call stores nothing. A delivery Twilio repeats (same
`I-Twilio-Idempotency-Token`, or the same message SID) is answered 200 and
does nothing. Each media item is described by MCS, its short-lived content
URL streamed into `ingest` (the same checks as any upload), and the message
handed to `deliver`; nothing Twilio-specific (hosts, SIDs of media, secrets)
goes into what the page will see.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from twilio.request_validator import RequestValidator

from server.bridges.twilio.bridge import CONVERSATION_SID, TwilioBridge, our_mark
from server.bridges.twilio.incoming import Ingest, fetch_media, iso_time, maybe
from server.http.api_error import ApiError, error_response
from server.http.json_body import capped_body, scrub_surrogates

BODY_LIMIT = 256 * 1024           # Body <= 32 KB and Attributes <= 4 KB (conversations-limits)
log = logging.getLogger("attache.twilio")

Deliver = Callable[[str, dict[str, Any]], Any]


class _Params(dict):
    """Form fields for RequestValidator, keeping every value of a repeated field."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]


def webhook_endpoint(bridge: TwilioBridge, ingest: Ingest, deliver: Deliver,
                     owner_prefix: str = "twilio:") -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint; mount it at `/twilio/webhook` (POST)."""
    validator = RequestValidator(bridge.settings.auth_token.reveal())
    settings = bridge.settings

    async def endpoint(request: Request) -> Response:
        raw = await capped_body(request, BODY_LIMIT)
        if raw is None:
            return error_response(413, "too_large", "Webhook body too large.")
        signature = request.headers.get("x-twilio-signature", "")
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            pairs = None
        url = settings.webhook_url + (f"?{request.url.query}" if request.url.query else "")
        if not signature or pairs is None or not validator.validate(url, _Params(pairs), signature):
            log.warning("Twilio webhook refused: %s signature", "missing" if not signature else "invalid")
            return error_response(403, "forbidden", "This request is not signed by Twilio for this server.")
        form = dict(pairs)
        if form.get("EventType") != "onMessageAdded":
            return _ok("ignored", "event type not handled")
        cid, sid = form.get("ConversationSid", ""), form.get("MessageSid", "")
        if (form.get("AccountSid") != settings.account_sid or form.get("ChatServiceSid") != settings.chat_service_sid
                or not CONVERSATION_SID.match(cid)):
            log.warning("Twilio webhook for a conversation outside service %s ignored", settings.chat_service_sid)
            return _ok("ignored", "unknown conversation: not in this server's Conversations service")
        if not sid.startswith("IM"):
            return error_response(400, "invalid_webhook", "onMessageAdded without a MessageSid.")
        if our_mark(form.get("Attributes")) is not None:
            return _ok("ignored", "sent by this server")
        token = request.headers.get("i-twilio-idempotency-token", "")
        # the same message delivered twice at once, or read from Twilio's history meanwhile, is stored once
        async with bridge.incoming.hold(sid):
            if bridge.ledger.processed(token, sid):
                return _ok("duplicate", "already processed")
            try:
                message = await _message(bridge, ingest, owner_prefix, form)
            except ApiError as error:   # transient: Twilio retries; nothing was marked processed
                return error_response(503, error.code, error.message, error.hint, retryable=True)
            await maybe(deliver(cid, message))
            bridge.ledger.mark_processed(token, sid)
        return _ok("delivered", "")

    return endpoint


async def _message(bridge: TwilioBridge, ingest: Ingest, owner_prefix: str, form: dict[str, str]) -> dict[str, Any]:
    """The Message-shaped dict for `deliver` (attachments are the rows `ingest` returned)."""
    author = form.get("Author", "") or "customer"
    attachments, refused = await fetch_media(bridge, ingest, owner_prefix + author, _media(form.get("Media", "")))
    return {"id": form["MessageSid"], "conversation": form["ConversationSid"], "sender": author,
            "text": form.get("Body", ""), "created_at": iso_time(form.get("DateCreated", "")),
            "idempotency_key": form["MessageSid"], "attachments": attachments,
            "refused_attachments": refused, "source": form.get("Source", "")}


def _media(value: str) -> list[dict[str, Any]]:
    """The `Media` field's items; a lone surrogate in a name becomes U+FFFD (the message is kept)."""
    try:
        items = scrub_surrogates(json.loads(value)) if value else []
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _ok(status: str, detail: str) -> JSONResponse:
    return JSONResponse({"status": status, "detail": detail})
