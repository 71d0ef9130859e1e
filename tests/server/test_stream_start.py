"""Where a stream opened without `after` ("only what is sent from now on") starts.

In process, the stream's body driven by hand: it can be resumed as late as a
busy event loop resumes it. A message stored once the stream's first line is
out was sent after the stream began, so it is delivered, even when it is stored
before the stream goes on past that line."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request

from server.app import create_app
from server.auth.principals import Principal
from server.conversations import events
from server.conversations.messages import message_json
from tests.conftest import run_async

from .conftest import TEST_CONFIG

AGENT = Principal("agent", "Agent", "agent", ("*",))


def test_a_message_stored_after_the_streams_first_line_is_delivered(tmp_path):
    (tmp_path / "c.toml").write_text(TEST_CONFIG)
    state = create_app(tmp_path / "c.toml", data_dir=tmp_path / "data").services
    state.store.add_message("sea", "agent", "before", "k0", [])

    async def scenario() -> None:
        scope = {"type": "http", "method": "GET", "path": "/api/conversations/sea/events", "query_string": b"",
                 "headers": []}
        body = (await events.live(Request(scope), state, AGENT, ("sea",))).body_iterator
        assert await anext(body) == "retry: 1000\n\n"        # the client knows the stream is open
        message, _ = state.store.add_message("sea", "agent", "after", "k1", [])   # before the stream goes on
        state.broker.publish("sea", message_json(message, state.signer))
        frame = await asyncio.wait_for(anext(body), 5)
        data = json.loads(frame.split("data: ", 1)[1])
        assert data["text"] == "after"
        await body.aclose()
    run_async(scenario())
