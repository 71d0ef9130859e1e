"""The bridge inside the reference server (`[backend] kind = "twilio"`).

Why a façade: the conversation API (server/messages.py) stays the same for
both kinds and only asks this object for what differs (a conversation's rules,
the send to Twilio); it never imports the `twilio` library, which loads only
when the config chooses this kind. What Twilio sends (the signed webhook) is
stored and published like any other message, so the agent's page sees it live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from starlette.routing import Route

from server.auth import Principal
from server.broker import Broker
from server.media import Signer
from server.messages import message_json
from server.store import Store, UploadRow
from server.twilio.bridge import OutgoingFile, TwilioBridge
from server.twilio.settings import TwilioSettings
from server.twilio.webhook import webhook_endpoint
from server.uploads import Uploads

WEBHOOK_PATH = "/twilio/webhook"
CUSTOMER = "customer"        # the role shown for what arrives from Twilio (SMS, WhatsApp, chat)


def refusal_notes(text: str, refused: Sequence[dict[str, Any]]) -> str:
    """The customer's text, then one line per file this server did not accept, for the agent to read.

    Why in the text: the page shows a message's text as it is, whatever the
    backend, and the agent must learn that the customer sent a file they
    cannot see (so they can ask for it another way).
    """
    lines = []
    for item in refused:
        name, reason = str(item.get("name") or "file"), str(item.get("message") or "refused").rstrip(".")
        lines.append(f"⚠ Attachment not accepted: {reason if name in reason else f'{name}: {reason}'}.")
    return "\n".join([t for t in (text,) if t.strip()] + lines)


class TwilioBackend:
    """Owns the bridge; the app calls `restrictions`, `send`, `routes` and `aclose`."""

    def __init__(self, settings: TwilioSettings, store: Store, uploads: Uploads, broker: Broker,
                 signer: Signer, data_dir: Path) -> None:
        self.bridge = TwilioBridge(settings, uploads.restrictions, store.database)
        self.bridge.ledger.adopt(data_dir / "twilio.sqlite3")     # an older version's ledger file, once
        self.store, self.uploads, self.broker, self.signer = store, uploads, broker, signer

    async def aclose(self) -> None:
        await self.bridge.aclose()

    def routes(self) -> list[Route]:
        """The webhook: outside /api/ and its bearer tokens; Twilio's signature authenticates it."""
        endpoint = webhook_endpoint(self.bridge, self.uploads.ingest, self.deliver)
        return [Route(WEBHOOK_PATH, endpoint, methods=["POST"], name="twilio_webhook")]

    async def restrictions(self, cid: str) -> dict[str, Any]:
        """The conversation's rules (admin's and the channel's), and the channel's own limit in words."""
        rules = await self.bridge.rules(cid)
        return {**rules.restrictions.to_json(), "limit": rules.describe()}

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
        thumbnails = getattr(self.uploads, "thumbnails", None)
        if thumbnails is not None:
            await thumbnails.wait(list(message["attachments"]))
        stored, created = self.store.add_message(cid, message["sender"], text, message["idempotency_key"],
                                                 list(message["attachments"]), sender_name=message["sender"],
                                                 sender_role=CUSTOMER)
        if created:
            self.broker.publish(cid, message_json(stored, self.signer))
