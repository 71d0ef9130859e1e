"""What the conversation endpoints and the first paint are given: the services `create_app` made, once.

Why one frozen object passed to each endpoint (server/app.py binds it): an
endpoint names what it uses (`state.store`, `state.broker`), nothing is set
onto the app after it is built, and the types say what each service offers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from server.auth.principals import Principal
from server.auth.tickets import TicketBook
from server.config.config_file import Config
from server.live.broker import Broker
from server.live.slots import StreamSlots
from server.media.link_signer import Signer
from server.media.thumbnails import Thumbnails
from server.store.queries import Store
from server.store.rows import UploadRow
from server.uploads.service import Uploads


class ConversationBridge(Protocol):
    """Another service holding the conversations (server/bridges/twilio/backend.py): what differs from ours."""

    live_floor: int     # seqs up to this are its history: the live feed starts above

    async def restrictions(self, cid: str) -> dict[str, Any]: ...

    async def page(self, cid: str, *, before: int | None, after: int | None, limit: int) -> dict[str, Any]: ...

    async def send(self, cid: str, principal: Principal, text: str, uploads: Sequence[UploadRow],
                   key: str) -> None: ...


@dataclass(frozen=True)
class Services:
    config: Config
    store: Store
    uploads: Uploads
    thumbnails: Thumbnails
    broker: Broker
    signer: Signer
    tickets: TicketBook
    slots: StreamSlots
    twilio: ConversationBridge | None    # None unless [backend] kind = "twilio"
    keepalive: float                     # seconds between an event stream's keep-alive comments
