"""models: frozen values, and FileInfo's JSON form (kept across reloads)."""

import dataclasses

import pytest

from app.core.models import FileInfo


def test_values_are_frozen():
    info = FileInfo("a.txt", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.size = 4  # type: ignore[misc]
    assert info.declared_type == "" and info.head == b""


def test_file_info_refuses_a_negative_size():
    with pytest.raises(ValueError, match="a.txt"):
        FileInfo("a.txt", -1)


def test_file_info_json_round_trip_keeps_the_head_bytes():
    info = FileInfo("photo.png", 2_400_000, "image/png", b"\x89PNG\r\n\x1a\n\x00")
    assert FileInfo.from_json(info.to_json()) == info


@pytest.mark.parametrize("data, words", [
    ([], "expected a JSON object"), ({"name": "a"}, "missing size"),
    ({"name": "a", "size": "3", "declared_type": "", "head": ""}, "file size must be an integer"),
    ({"name": "a", "size": 3, "declared_type": "", "head": "zz"}, "head is not hex"),
])
def test_file_info_from_json_says_what_is_wrong(data, words):
    with pytest.raises(ValueError, match=words):
        FileInfo.from_json(data)
