"""The people of bench/load.py: agents who upload files with tus and send them, and customers who
follow their conversation live; each with a signed identity of their own and a client of their own."""
from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import random
import ssl
import time
import uuid
from dataclasses import dataclass, field

import httpx

from server.auth.tokens import mint

KEY = os.urandom(32).hex().encode()
CONVERSATION_IDS = [f"load-{i:03d}" for i in range(1000)]


@dataclass
class Run:
    sent: dict[str, float] = field(default_factory=dict)         # idempotency key -> POST started
    answered: dict[str, float] = field(default_factory=dict)     # idempotency key -> POST answered
    uploaded: list[float] = field(default_factory=list)          # seconds per upload (create + PATCH)
    began: dict[str, float] = field(default_factory=dict)        # idempotency key -> its file's upload began
    seen: dict[str, list[float]] = field(default_factory=dict)   # idempotency key -> times its listener saw it
    photos: set[str] = field(default_factory=set)                # keys of messages whose file is an image
    thumbnailed: dict[str, float] = field(default_factory=dict)  # key -> first frame carrying its thumbnail
    errors: list[str] = field(default_factory=list)
    resent: int = 0                                              # sends cut off and sent again with their key


def token(sub: str, role: str, conversations: list[str]) -> str:
    return mint(KEY, sub, role, conversations, sub, 3600)


async def listen(urls: list[str], who: str, cid: str, run: Run, ready: asyncio.Event, done: asyncio.Event,
                 client: httpx.AsyncClient) -> None:
    """One customer following `cid` live on a process picked at random (again after any drop)."""
    headers = {"Authorization": f"Bearer {token(who, 'customer', [cid])}"}
    after = 0
    while not done.is_set():
        base = random.choice(urls)
        try:
            ticket = await client.post(f"{base}/api/conversations/{cid}/events/ticket", headers=headers)
            ticket.raise_for_status()
            url = f"{base}/api/conversations/{cid}/events"
            params = {"ticket": ticket.json()["ticket"], "after": str(after)}
            async with client.stream("GET", url, params=params, timeout=httpx.Timeout(10, read=None)) as stream:
                ready.set()
                data, kind, seq = "", "", 0
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        data = line[6:]
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("id: "):
                        seq = int(line[4:])
                    elif line == "" and data:
                        message = json.loads(data)
                        data = ""
                        after = max(after, seq)
                        key, now = message["idempotency_key"], time.perf_counter()
                        if kind == "message":          # an `update` is the same message again, not a new one
                            run.seen.setdefault(key, []).append(now)
                        if any(a.get("thumbnail") for a in message["attachments"]):
                            run.thumbnailed.setdefault(key, now)
                    if done.is_set():
                        return
        except (httpx.HTTPError, KeyError) as error:
            run.errors.append(f"listener {who}: {error!r}")
            await asyncio.sleep(0.2)


def photo(mib: int) -> bytes:
    """A JPEG of about `mib` MiB (noise compresses little), so every other file is thumbnailed as photos are."""
    from PIL import Image
    side = int((mib * 1024 * 1024 / 2.2) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "JPEG", quality=90)
    return out.getvalue()


def unique(kind: str, payload: bytes) -> bytes:
    """The same bytes made distinct (media are deduplicated by sha256): a JPEG comment segment, or a PDF tail."""
    tag = uuid.uuid4().bytes
    return payload[:2] + b"\xff\xfe\x00\x12" + tag + payload[2:] if kind == "jpg" else payload + tag


TLS = ssl.create_default_context()   # one for every client: making one costs ~30 ms of CPU, and no URL here is https
FILE_TYPES = {"jpg": "image/jpeg", "pdf": "application/pdf"}


async def agent(urls: list[str], who: str, cid: str, files: int, payloads: dict[str, bytes], run: Run,
                client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {token(who, 'agent', [cid])}"}
    for n in range(files):
        kind = "jpg" if n % 2 == 0 else "pdf"
        payload = unique(kind, payloads[kind])
        meta = "filename " + base64.b64encode(f"{who}-{n}.{kind}".encode()).decode() + ",filetype " + \
            base64.b64encode(FILE_TYPES[kind].encode()).decode()
        try:
            base = random.choice(urls)
            began = time.perf_counter()
            created = await client.post(f"{base}/api/uploads", headers={
                **headers, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(payload)), "Upload-Metadata": meta})
            created.raise_for_status()
            location = created.headers["location"]
            patched = await client.patch(httpx.URL(base).join(location), content=payload, headers={
                **headers, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream"})
            patched.raise_for_status()
            run.uploaded.append(time.perf_counter() - began)
            key = uuid.uuid4().hex
            base = random.choice(urls)
            if kind == "jpg":
                run.photos.add(key)
            run.sent[key], run.began[key] = time.perf_counter(), began
            body = {"idempotency_key": key, "text": f"from {who}", "attachments": [location.rsplit("/", 1)[-1]]}
            for attempt in range(3):     # as the page's outbox: a send cut off is sent again with its key
                try:
                    sent = await client.post(f"{base}/api/conversations/{cid}/messages", headers=headers, json=body)
                    break
                except httpx.TransportError:  # e.g. a kept-alive connection the server closed as it was reused
                    if attempt == 2:
                        raise
                    run.resent += 1
            sent.raise_for_status()
            run.answered[key] = time.perf_counter()
        except httpx.HTTPStatusError as error:
            run.errors.append(f"agent {who}: {error.response.status_code} from {error.request.method} "
                              f"{error.request.url.path}: {error.response.text[:300]}")
        except httpx.HTTPError as error:
            run.errors.append(f"agent {who}: {error!r}")
