"""The bridge inside the reference server (`[backend] kind = "twilio"`).

Why a façade: the conversation API (server/conversations/messages.py) stays the same for
both kinds and only asks this object for what differs (a conversation's rules,
the send to Twilio); it never imports the `twilio` library, which loads only
when the config chooses this kind. What Twilio sends (the signed webhook) is
stored and published like any other message, so the agent's page sees it live.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from pathlib import Path
from typing import Any

from starlette.routing import Route

from server.auth.principals import Principal
from server.bridges.twilio.bridge import OutgoingFile, TwilioBridge
from server.bridges.twilio.history import TwilioHistory
from server.bridges.twilio.history_rows import LIVE_BASE, HistoryRows
from server.bridges.twilio.incoming import refusal_notes
from server.bridges.twilio.webhook import webhook_endpoint
from server.config.twilio_config import TwilioSettings
from server.conversations.messages import history_json, message_json
from server.live.broker import Broker
from server.media.link_signer import Signer
from server.media.thumbnails import Thumbnails
from server.store.queries import MAX_SEQ, Store
from server.store.rows import UploadRow
from server.uploads.ingest import ingest
from server.uploads.service import Uploads

WEBHOOK_PATH = "/twilio/webhook"
CUSTOMER = "customer"        # the role shown for what arrives from Twilio (SMS, WhatsApp, chat)


class TwilioBackend:
    """Owns the bridge; the app calls `restrictions`, `send`, `page`, `routes` and `aclose`."""

    live_floor = LIVE_BASE   # seqs up to this are history read from Twilio: the live feed starts above

    def __init__(self, settings: TwilioSettings, store: Store, uploads: Uploads, thumbnails: Thumbnails,
                 broker: Broker, signer: Signer, data_dir: Path) -> None:
        self.bridge = TwilioBridge(settings, uploads.restrictions, store.database)
        self.bridge.ledger.adopt(data_dir / "twilio.sqlite3")     # an older version's ledger file, once
        self.store, self.uploads, self.thumbnails, self.broker, self.signer = store, uploads, thumbnails, broker, signer
        self.history = TwilioHistory(self.bridge, HistoryRows(store), self.ingest, self._thumbnails,
                                     lambda cid, m: broker.publish(cid, message_json(m, signer)))

    async def aclose(self) -> None:
        await self.history.aclose()
        await self.bridge.aclose()

    async def page(self, cid: str, *, before: int | None, after: int | None, limit: int) -> dict[str, Any]:
        """A page of the history as the reference kind answers it, with Twilio's earlier messages read in
        as far as it reaches. `older` stays a token while Twilio has more, even when the store has
        nothing more yet (a passing fault: the page says earlier messages are loading and asks again)."""
        if after is None:
            await self.history.ensure(cid, before, limit)
        messages, older = self.store.page(cid, before=before, after=after, limit=limit)
        if older is None and after is None and not self.history.complete(cid):
            error = self.history.failure(cid)
            if error is not None and before is not None and not messages:
                raise error          # not a passing fault: the page offers to try again
            older = messages[0]["seq"] if messages else (before if before is not None else MAX_SEQ)
        return history_json(messages, older, self.signer)

    async def ingest(self, owner: str, name: str, declared_type: str,
                     chunks: AsyncIterable[bytes] | bytes) -> UploadRow:
        """A file Twilio holds (a message's media) into our uploads, through the same rules as the page's."""
        return await ingest(self.uploads, owner, name, declared_type, chunks)

    async def _thumbnails(self, uploads: list[UploadRow]) -> None:
        if uploads:
            await self.thumbnails.wait(uploads)

    def routes(self) -> list[Route]:
        """The webhook: outside /api/ and its bearer tokens; Twilio's signature authenticates it."""
        endpoint = webhook_endpoint(self.bridge, self.ingest, self.deliver)
        return [Route(WEBHOOK_PATH, endpoint, methods=["POST"], name="twilio_webhook")]

    async def restrictions(self, cid: str) -> dict[str, Any]:
        """The conversation's rules (admin's and the channel's), and the channel's own limit in words."""
        rules = await self.bridge.rules(cid)
        return rules.restrictions.to_json(limit=rules.describe())

    async def send(self, cid: str, principal: Principal, text: str, uploads: Sequence[UploadRow], key: str) -> None:
        """Into Twilio first, as the agent (Author = the principal's name); the caller stores it after.

        A retry with the same key finds what the first attempt created (the
        bridge's ledger, then Twilio's recent messages), so it never posts twice.
        """
        files = [OutgoingFile(self.uploads.media(u.sha256 or ""), u.name, u.content_type, u.size)
                 for u in uploads]
        await self.bridge.send(cid, principal.name, text, files, key)

    async def deliver(self, cid: str, message: dict[str, Any]) -> None:
        """A customer's message from the webhook: stored once (its key is the IM... SID), then published
        (once its images' thumbnails are made, as for a message sent from the page)."""
        text = refusal_notes(message["text"], message.get("refused_attachments", ()))
        await self._thumbnails(list(message["attachments"]))
        stored, created = self.store.add_message(cid, message["sender"], text, message["idempotency_key"],
                                                 list(message["attachments"]), sender_name=message["sender"],
                                                 sender_role=CUSTOMER)
        if created:
            self.broker.publish(cid, message_json(stored, self.signer))
