"""A photo's message is stored and published at once; its thumbnail follows as an update event.

In process (the app over ASGI, the thumbnail worker held at a gate): the POST
answers while the thumbnail is not made, the history says it is pending, and
once the worker goes on the conversation's streams are rung and the database
holds an update event carrying the message with its thumbnail."""

from __future__ import annotations

import asyncio
import base64
import threading
import uuid

import httpx

from server.media import thumbnails
from server.app import create_app
from server.media.thumbnails import MAX_SIDE
from tests.conftest import run_async

from .conftest import AGENT, TEST_CONFIG, TUS
from .test_thumbnails import jpeg


async def tus_upload(c: httpx.AsyncClient, name: str, data: bytes, content_type: str) -> str:
    meta = f"filename {base64.b64encode(name.encode()).decode()},filetype {base64.b64encode(content_type.encode()).decode()}"
    r = await c.post("/api/uploads", headers={**AGENT, **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    uid = r.headers["location"].rsplit("/", 1)[-1]
    r = await c.patch(f"/api/uploads/{uid}", content=data, headers={
        **AGENT, **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204, r.text
    return uid


def test_a_photos_message_answers_before_its_thumbnail_which_follows_as_an_update(tmp_path, monkeypatch):
    gate = threading.Event()
    made = thumbnails.make_safely

    def held(src, dst):          # the worker thread waits here until the message is answered
        assert gate.wait(20), "the test never let the thumbnail be made"
        return made(src, dst)

    monkeypatch.setattr(thumbnails, "make_safely", held)
    (tmp_path / "c.toml").write_text(TEST_CONFIG)
    app = create_app(tmp_path / "c.toml", data_dir=tmp_path / "data")
    state = app.services

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            uid = await tus_upload(c, "beach.jpg", jpeg(1200, 900), "image/jpeg")
            r = await c.post("/api/conversations/sea/messages", headers=AGENT,
                             json={"idempotency_key": uuid.uuid4().hex, "text": "look", "attachments": [uid]})
            assert r.status_code == 201, r.text
            sent = r.json()
            assert sent["attachments"][0]["thumbnail"] is None and sent["attachments"][0]["thumbnail_pending"]
            listener = state.broker.subscribe(["sea"])
            gate.set()
            assert await listener.wake.wait(20)       # the update rang the conversation's streams
            assert listener.reload
            events = state.store.events("sea", sent["seq"])
            assert [kind for _seq, kind, _m in events] == ["update"] and events[0][0] > sent["seq"]
            updated = events[0][2]
            assert updated["id"] == sent["id"] and updated["attachments"][0].thumbnail == (MAX_SIDE, 360)
            history = (await c.get("/api/conversations/sea/messages", headers=AGENT)).json()["messages"]
            assert [m["id"] for m in history] == [sent["id"]]        # the update is no message of its own
            shown = history[0]["attachments"][0]
            assert shown["thumbnail"]["width"] == MAX_SIDE and "thumbnail_pending" not in shown
            again = await c.post("/api/conversations/sea/messages", headers=AGENT, json={
                "idempotency_key": sent["idempotency_key"], "text": "look", "attachments": [uid]})
            assert again.status_code == 200 and again.json()["attachments"][0]["thumbnail"] == shown["thumbnail"]
            await state.thumbnails.close()

    try:
        run_async(scenario())
    finally:
        gate.set()
        state.store.close()
