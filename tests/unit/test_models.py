"""models: values, and the JSON shape shared by the server and the adapters."""

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from app.core.models import Attachment, FileInfo, Message, Problem, utc_timestamp

MESSAGE_JSON = {
    "id": "m1", "seq": 7, "conversation": "default", "sender": "agent", "text": "see attached",
    "created_at": "2026-11-25T15:04:05Z", "idempotency_key": "k1",
    "attachments": [{"id": "a1", "name": "photo.png", "size": 2400000, "content_type": "image/png",
                     "url": "/media/abc/photo.png?sig=x"}],
}


def test_values_are_frozen():
    info = FileInfo("a.txt", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.size = 4  # type: ignore[misc]
    assert info.declared_type == "" and info.head == b""


def test_file_info_refuses_a_negative_size():
    with pytest.raises(ValueError, match="a.txt"):
        FileInfo("a.txt", -1)


def test_message_from_json():
    message = Message.from_json(MESSAGE_JSON)
    assert message == Message("m1", 7, "agent", "see attached",
                              (Attachment("a1", "photo.png", 2_400_000, "image/png", "/media/abc/photo.png?sig=x"),),
                              "2026-11-25T15:04:05Z", "k1")


def test_message_json_round_trip_without_conversation():
    message = Message.from_json(MESSAGE_JSON)
    expected = {k: v for k, v in MESSAGE_JSON.items() if k != "conversation"}
    assert message.to_json() == expected
    assert Message.from_json(message.to_json()) == message


def test_message_from_json_defaults_optional_fields():
    message = Message.from_json({"id": "m", "seq": 1, "sender": "s", "created_at": "2026-01-01T00:00:00Z"})
    assert (message.text, message.attachments, message.idempotency_key) == ("", (), "")


@pytest.mark.parametrize("data, words", [
    ([], "expected a JSON object"), ({"id": "m"}, "missing seq, sender, created_at"),
    ({**MESSAGE_JSON, "seq": "7"}, "seq must be an integer"), ({**MESSAGE_JSON, "attachments": {}}, "attachments"),
    ({**MESSAGE_JSON, "attachments": [{"id": "a"}]}, "attachment: missing name"),
])
def test_message_from_json_says_what_is_wrong(data, words):
    with pytest.raises(ValueError, match=words):
        Message.from_json(data)


def test_problem_json():
    assert Problem("empty", "a is empty").to_json() == {"code": "empty", "message": "a is empty", "hint": ""}


def test_utc_timestamp():
    moment = datetime(2026, 11, 25, 17, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert utc_timestamp(moment) == "2026-11-25T15:04:05Z"
    assert utc_timestamp().endswith("Z") and len(utc_timestamp()) == 20
