"""Stand-ins for Twilio, in the test process: Conversations (behind Prism) and MCS.

Conversations: a stateful upstream for Prism's validation proxy. Its answers are
built from the examples in Twilio's own OpenAPI document and validated by
Prism against it, so the stand-in cannot drift from the contract unnoticed.
MCS (not in that document) follows the Media Content Service documentation
(https://www.twilio.com/docs/conversations/media-support-conversations):
`POST /v1/Services/{IS}/Media` with the raw bytes answers 201 + the media JSON
(`sid` "ME..."); `GET .../Media/{ME}` answers it with `links.content_direct_temporary`,
a short-lived URL of the bytes that needs no credentials.
"""
from __future__ import annotations

import base64
import copy
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TWILIO = "https://conversations.twilio.com"


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's documented error body."""
    return JSONResponse({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": status}, status_code=status)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class FakeTwilio:
    spec: dict[str, Any]
    account_sid: str
    service_sid: str
    key_sid: str
    key_secret: str
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    fail_next: list[tuple[str, JSONResponse]] = field(default_factory=list)   # (path suffix, answer)
    lose_next: list[str] = field(default_factory=list)   # conversation SIDs whose next create is done, then 503
    fail_list: list[tuple[str, int, JSONResponse]] = field(default_factory=list)   # (cid, Page, answer) of a list
    on_list: dict[str, Any] = field(default_factory=dict)   # cid -> async hook run while a list is being answered
    on_media: dict[str, Any] = field(default_factory=dict)  # ME sid -> hook run while MCS describes it
    participants_page: int = 50
    media_limit: int = 150_000_000
    mcs_url: str = ""

    # -- set-up helpers for tests --------------------------------------------------
    def conversation(self, *participants: dict[str, Any]) -> str:
        cid = sid("CH")
        self.conversations[cid] = {"participants": list(participants), "messages": []}
        return cid

    def add_media(self, data: bytes, content_type: str, filename: str = "") -> str:
        media_sid = sid("ME")
        self.media[media_sid] = {"data": data, "content_type": content_type, "filename": filename,
                                 "token": secrets.token_urlsafe(16)}
        return media_sid

    def add_history(self, cid: str, count: int, media_every: int = 0, authors: tuple[str, ...] = (
            "+15558675310", "flex-agent-ana"), image: bytes = b"") -> list[dict[str, Any]]:
        """`count` earlier messages, one a minute from 2026-01-01, as other clients wrote them (no webhook
        reaches the bridge for them): every `media_every`-th with an image of `image`'s bytes."""
        added = []
        for i in range(count):
            form = {"Author": authors[i % len(authors)], "Body": f"Earlier message {i}"}
            if media_every and i % media_every == 0 and image:
                form["MediaSid"] = self.add_media(image + secrets.token_bytes(8), "image/png",
                                                  f"earlier-{i}.png")
            m = self._message_json(cid, form)
            m["date_created"] = m["date_updated"] = f"2026-01-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z"
            self.messages(cid).append(m)
            added.append(m)
        return added

    def calls(self, method: str, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def messages(self, cid: str) -> list[dict[str, Any]]:
        return self.conversations[cid]["messages"]

    # -- helpers -----------------------------------------------------------------
    def _example(self, path: str, method: str, status: str, name: str) -> Any:
        content = self.spec["paths"][path][method]["responses"][status]["content"]["application/json"]
        return copy.deepcopy(content["examples"][name]["value"])

    def _authorized(self, request: Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.key_sid}:{self.key_secret}".encode()).decode()
        return request.headers.get("authorization") == expected

    async def _record(self, request: Request) -> JSONResponse | None:
        body = await request.body()
        self.requests.append(Recorded(request.method, request.url.path, dict(request.query_params),
                                      {k.lower(): v for k, v in request.headers.items()}, body))
        for i, (suffix, answer) in enumerate(self.fail_next):
            if request.url.path.endswith(suffix):
                del self.fail_next[i]
                return answer
        if not self._authorized(request):
            return twilio_error(401, 20003, "Authenticate")
        return None

    # -- Conversations ------------------------------------------------------------
    async def create_message(self, request: Request) -> Response:
        if (refused := await self._record(request)) is not None:
            return refused
        cid = request.path_params["cid"]
        if cid not in self.conversations:
            return twilio_error(404, 20404, f"The requested resource /Conversations/{cid}/Messages was not found")
        m = self._message_json(cid, self.requests[-1].form)
        self.messages(cid).append(m)
        if cid in self.lose_next:       # created, but the answer is lost on the way (a proxy's 503)
            self.lose_next.remove(cid)
            return twilio_error(503, 20503, "Service Unavailable")
        return JSONResponse(m, status_code=201)

    def _message_json(self, cid: str, form: dict[str, str]) -> dict[str, Any]:
        """A message as Twilio's document shows one, with the next index of its conversation."""
        m = self._example("/v1/Conversations/{ConversationSid}/Messages", "post", "201", "create")
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        m.update(sid=sid("IM"), account_sid=self.account_sid, conversation_sid=cid, body=form.get("Body"),
                 author=form.get("Author", "system"), attributes=form.get("Attributes", "{}"),
                 index=len(self.messages(cid)), date_created=now, date_updated=now)
        m["url"] = f"{TWILIO}/v1/Conversations/{cid}/Messages/{m['sid']}"
        m["links"] = {k: f"{m['url']}/{v.rsplit('/', 1)[1]}" for k, v in m["links"].items()}
        if form.get("MediaSid"):
            stored = self.media.get(form["MediaSid"], {})
            m["media"] = [{"sid": form["MediaSid"], "size": len(stored.get("data", b"")),
                           "content_type": stored.get("content_type", ""), "filename": stored.get("filename")}]
        return m

    async def list_messages(self, request: Request) -> Response:
        """`Order`, `PageSize` (1-100), and `meta.next_page_url` with a `PageToken` that continues after the
        page's last message (so a message added meanwhile neither shifts nor repeats a page)."""
        if (refused := await self._record(request)) is not None:
            return refused
        cid = request.path_params["cid"]
        if cid not in self.conversations:
            return twilio_error(404, 20404, "Not found")
        q = request.query_params
        size, number, order = int(q.get("PageSize", 50)), int(q.get("Page", 0)), q.get("Order", "asc")
        for i, (failing, page_number, answer) in enumerate(self.fail_list):
            if failing == cid and page_number == number:
                del self.fail_list[i]
                return answer
        desc = order == "desc"
        items = sorted(self.messages(cid), key=lambda m: m["index"], reverse=desc)
        token = q.get("PageToken", "")
        if token.startswith("PT"):
            anchor = int(token[2:])
            items = [m for m in items if (m["index"] < anchor if desc else m["index"] > anchor)]
        if cid in self.on_list:
            await self.on_list[cid](number)
        page = self._example("/v1/Conversations/{ConversationSid}/Messages", "get", "200", "readFull")
        page["messages"] = chunk = items[:size]
        base = f"{TWILIO}/v1/Conversations/{cid}/Messages?Order={order}&PageSize={size}"
        more = len(items) > size
        page["meta"].update(page=number, page_size=size, url=f"{base}&Page={number}", first_page_url=f"{base}&Page=0",
                            next_page_url=f"{base}&Page={number + 1}&PageToken=PT{chunk[-1]['index']}" if more
                            else None)
        return JSONResponse(page)

    async def list_participants(self, request: Request) -> Response:
        if (refused := await self._record(request)) is not None:
            return refused
        cid = request.path_params["cid"]
        if cid not in self.conversations:
            return twilio_error(404, 20404, "Not found")
        number = int(request.query_params.get("Page", 0))
        size = min(int(request.query_params.get("PageSize", 50)), self.participants_page)
        page = self._example("/v1/Conversations/{ConversationSid}/Participants", "get", "200", "read")
        template = page["participants"][0]
        everyone = self.conversations[cid]["participants"]
        chunk = everyone[number * size:(number + 1) * size]
        page["participants"] = [{**template, "sid": sid("MB"), "conversation_sid": cid,
                                 "account_sid": self.account_sid, "identity": p.get("identity"),
                                 "messaging_binding": p.get("messaging_binding"),
                                 "url": f"{TWILIO}/v1/Conversations/{cid}/Participants/{sid('MB')}"} for p in chunk]
        base = f"{TWILIO}/v1/Conversations/{cid}/Participants?PageSize={size}"
        more = (number + 1) * size < len(everyone)
        # Absolute links on Twilio's host, as Twilio sends them: the bridge must rewrite them.
        page["meta"].update(page=number, page_size=size, url=f"{base}&Page={number}", first_page_url=f"{base}&Page=0",
                            next_page_url=f"{base}&Page={number + 1}&PageToken=PT{number + 1}" if more else None)
        return JSONResponse(page)

    # -- MCS -----------------------------------------------------------------------
    def _media_json(self, media_sid: str) -> dict[str, Any]:
        m = self.media[media_sid]
        url = f"/v1/Services/{self.service_sid}/Media/{media_sid}"
        return {"sid": media_sid, "service_sid": self.service_sid, "date_created": "2026-11-25T10:00:00.000000-00:00",
                "date_upload_updated": "2026-11-25T10:00:00.000000-00:00",
                "date_updated": "2026-11-25T10:00:00.000000-00:00",
                "links": {"content": f"{url}/Content",
                          "content_direct_temporary": f"{self.mcs_url}/temporary/{m['token']}"},
                "size": len(m["data"]), "content_type": m["content_type"], "filename": m["filename"] or None,
                "author": "system", "category": "media", "message_sid": None, "channel_sid": None, "url": url,
                "is_multipart_upstream": False}

    async def mcs_create(self, request: Request) -> Response:
        if (refused := await self._record(request)) is not None:
            return refused
        if request.path_params["service"] != self.service_sid:
            return twilio_error(404, 20404, "Service not found")
        data = self.requests[-1].body
        if len(data) > self.media_limit:
            return twilio_error(413, 50512, "Media too large")
        media_sid = self.add_media(data, request.headers.get("content-type", ""))
        return JSONResponse({k: v for k, v in self._media_json(media_sid).items()
                             if k != "links"} | {"links": {"content": f"/v1/Services/{self.service_sid}"
                                                                      f"/Media/{media_sid}/Content"}},
                            status_code=201)

    async def mcs_fetch(self, request: Request) -> Response:
        if (refused := await self._record(request)) is not None:
            return refused
        media_sid = request.path_params["media"]
        if media_sid not in self.media:
            return twilio_error(404, 20404, "Media not found")
        if media_sid in self.on_media:
            self.on_media.pop(media_sid)()
        return JSONResponse(self._media_json(media_sid))

    async def temporary(self, request: Request) -> Response:
        await request.body()
        self.requests.append(Recorded("GET", request.url.path, {}, {k.lower(): v for k, v in request.headers.items()},
                                      b""))
        for m in self.media.values():
            if secrets.compare_digest(m["token"], request.path_params["token"]):
                return Response(m["data"], media_type=m["content_type"])
        return Response("expired", status_code=403)

    def conversations_app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/Conversations/{cid}/Messages", self.create_message, methods=["POST"]),
            Route("/v1/Conversations/{cid}/Messages", self.list_messages, methods=["GET"]),
            Route("/v1/Conversations/{cid}/Participants", self.list_participants, methods=["GET"]),
        ])

    def mcs_app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/Services/{service}/Media", self.mcs_create, methods=["POST"]),
            Route("/v1/Services/{service}/Media/{media}", self.mcs_fetch, methods=["GET"]),
            Route("/temporary/{token}", self.temporary, methods=["GET"]),
        ])
