"""Talk to the reference server as the other party would, over real HTTP."""
from __future__ import annotations

import base64
import uuid
from typing import Callable

import httpx

from tools.services.attache import AGENT_TOKEN, CUSTOMER_TOKEN

TOKENS = {"agent": AGENT_TOKEN, "customer": CUSTOMER_TOKEN}
# Production-mode servers (tests/e2e/production.py): base URL -> mint(identity, conversation) -> token.
MINTERS: dict[str, Callable[[str, str], str]] = {}


def bearer(base_url: str, identity: str = "agent", conversation: str = "default") -> dict[str, str]:
    """The Authorization header of `identity` on this server (minted on a production server)."""
    minter = MINTERS.get(base_url)
    token = TOKENS[identity] if minter is None else minter(identity, conversation)
    return {"Authorization": f"Bearer {token}"}


class Api:
    def __init__(self, base_url: str, identity: str = "customer") -> None:
        self.identity, self.minter = identity, MINTERS.get(base_url)
        token = TOKENS[identity] if self.minter is None else self.minter(identity, "default")
        self.client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def _as_member_of(self, conversation: str) -> None:
        """Production: a token that lists this conversation (a customer's lists only theirs)."""
        if self.minter is not None:
            self.client.headers["Authorization"] = f"Bearer {self.minter(self.identity, conversation)}"

    def upload(self, name: str, data: bytes, content_type: str) -> str:
        """tus 1.0.0: create, then one PATCH; the id is the last segment of Location."""
        meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" if v else k
                        for k, v in (("filename", name), ("filetype", content_type)))
        started = self.client.post("/api/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
                                                            "Upload-Metadata": meta})
        started.raise_for_status()
        upload_id = started.headers["location"].rsplit("/", 1)[-1]
        self.client.patch(f"/api/uploads/{upload_id}", content=data, headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
        }).raise_for_status()
        return upload_id

    def send(self, conversation: str, text: str = "", files: list[tuple[str, bytes, str]] = ()) -> dict:
        self._as_member_of(conversation)
        return self.send_uploaded(conversation, text, [self.upload(*f) for f in files])

    def send_uploaded(self, conversation: str, text: str, upload_ids: list[str]) -> dict:
        """A message with files uploaded before (`upload`)."""
        self._as_member_of(conversation)
        response = self.client.post(
            f"/api/conversations/{conversation}/messages",
            json={"idempotency_key": uuid.uuid4().hex, "text": text, "attachments": upload_ids},
        )
        response.raise_for_status()
        return response.json()

    def history(self, conversation: str) -> list[dict]:
        self._as_member_of(conversation)
        response = self.client.get(f"/api/conversations/{conversation}/messages")
        response.raise_for_status()
        return response.json()["messages"]
