"""Wire dataclasses: one definition decodes the server's JSON and describes it as JSON Schema."""

import dataclasses
import json
import typing
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import schemas
from app.core.wire import WireError, decode, encode, json_schema, json_schemas, prop


@dataclass(frozen=True)
class Point:
    """A point on the canvas."""

    x: int = prop(minimum=0, description="From the left")
    label: str = prop(nonempty=True, max_length=5)
    tags: tuple[str, ...] = prop(default=())
    note: str | None = prop(default=None)
    weight: float = prop(default=1.0)


@dataclass(frozen=True)
class Shape:
    points: list[Point] = prop()
    parent: Point | None = prop()
    at: str = prop(fmt="date-time", default="2026-01-01T00:00:00Z")


class TestDecode:
    def test_a_value_that_fits(self):
        assert decode(Point, {"x": 1, "label": "a", "tags": ["t"], "note": None, "weight": 2, "extra": 1}) == Point(
            1, "a", ("t",), None, 2.0)

    def test_defaults_fill_absent_and_null_fields(self):
        assert decode(Point, {"x": 0, "label": "a", "tags": None}) == Point(0, "a")

    def test_an_optional_field_without_default_may_be_absent(self):
        assert decode(Shape, {"points": []}) == Shape([], None)

    def test_nested_classes_and_lists(self):
        shape = decode(Shape, {"points": [{"x": 1, "label": "p"}], "parent": {"x": 2, "label": "q"}})
        assert shape.points == [Point(1, "p")] and shape.parent == Point(2, "q")

    @pytest.mark.parametrize("value, message", [
        ([], "point should be an object"),
        ({"label": "a"}, "point.x is missing"),
        ({"x": True, "label": "a"}, "point.x should be an integer"),
        ({"x": 1.0, "label": "a"}, "point.x should be an integer"),
        ({"x": -1, "label": "a"}, "point.x should be at least 0"),
        ({"x": 1, "label": ""}, "point.label should not be empty"),
        ({"x": 1, "label": "toolong"}, "point.label should be at most 5 characters"),
        ({"x": 1, "label": None}, "point.label should be a string"),
        ({"x": 1, "label": "a", "tags": "t"}, "point.tags should be a list"),
        ({"x": 1, "label": "a", "tags": [1]}, "point.tags[0] should be a string"),
        ({"x": 1, "label": "a", "weight": "1"}, "point.weight should be a number"),
        ({"x": 1, "label": "a", "weight": False}, "point.weight should be a number"),
    ])
    def test_what_does_not_fit_is_named_by_its_path(self, value, message):
        with pytest.raises(WireError) as info:
            decode(Point, value)
        assert str(info.value) == message

    def test_paths_go_through_lists_and_nesting(self):
        with pytest.raises(WireError, match=r"^shape.points\[1\].x is missing$"):
            decode(Shape, {"points": [{"x": 1, "label": "a"}, {"label": "b"}], "parent": None})
        with pytest.raises(WireError, match=r"^shape.at should be an ISO 8601 time$"):
            decode(Shape, {"points": [], "at": "soon"})

    @given(x=st.integers(0, 10**12), label=st.text(min_size=1, max_size=5),
           tags=st.lists(st.text(max_size=3), max_size=3).map(tuple))
    def test_encode_then_decode_is_the_same_value(self, x, label, tags):
        point = Point(x, label, tags)
        assert decode(Point, encode(point)) == point


class TestJsonSchema:
    def test_describes_types_rules_defaults_and_descriptions(self):
        schema = json_schema(Point)
        assert schema["description"] == "A point on the canvas."
        assert schema["required"] == ["x", "label"]
        assert schema["properties"] == {
            "x": {"type": "integer", "minimum": 0, "description": "From the left"},
            "label": {"type": "string", "minLength": 1, "maxLength": 5},
            "tags": {"type": "array", "items": {"type": "string"}, "default": []},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "weight": {"type": "number", "default": 1.0},
        }

    def test_nested_classes_are_referenced(self):
        schema = json_schema(Shape)
        assert schema["properties"]["points"] == {"type": "array", "items": {"$ref": "#/$defs/Point"}}
        assert schema["properties"]["at"]["format"] == "date-time"
        assert schema["$defs"]["Point"] == {k: v for k, v in json_schema(Point).items() if k != "$schema"}
        assert "description" not in schema  # the signature dataclass writes is not a description

    def test_openapi_components_for_the_whole_api(self):
        components = json_schemas(*schemas.ALL)
        assert set(components) == {"Thumbnail", "Attachment", "Message", "History", "Restrictions", "TypeLimit",
                                   "MessageCreate", "Error", "ErrorDetail", "EventsTicket"}
        message = components["Message"]
        assert message["properties"]["attachments"]["items"] == {"$ref": "#/components/schemas/Attachment"}
        assert "sender_name" not in message["required"] and "idempotency_key" in message["required"]
        assert "File.type" in components["Attachment"]["properties"]["content_type"]["description"]

    def test_only_wire_dataclasses(self):
        with pytest.raises(TypeError):
            json_schema(dict)


def test_the_api_shapes_accept_what_the_reference_server_sends():
    sent = {"messages": [{"id": "m1", "seq": 1, "conversation": "default", "sender": "agent", "text": "hi",
                          "created_at": "2026-11-25T15:04:05Z", "idempotency_key": "k", "attachments": []}]}
    page = decode(schemas.History, sent)
    assert page.messages[0].sender_name == "" and page.older is None
    assert encode(page)["messages"][0] == {**sent["messages"][0], "sender_name": "", "sender_role": ""}


def instances(cls: type) -> st.SearchStrategy:
    """Any valid value of the wire class `cls`, built from its field types and rules."""
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _values(hints[f.name], f.metadata) for f in dataclasses.fields(cls)})


def _values(tp: typing.Any, meta: typing.Any) -> st.SearchStrategy:
    args = typing.get_args(tp)
    if type(None) in args:
        return st.none() | _values(next(a for a in args if a is not type(None)), meta)
    if typing.get_origin(tp) is tuple:
        return st.lists(_values(args[0], {}), max_size=3).map(tuple)
    if dataclasses.is_dataclass(tp):
        return instances(tp)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=meta.get("minimum"), max_value=2**53)
    if meta.get("choices"):
        return st.sampled_from(meta["choices"])
    if meta.get("fmt") == "date-time":
        return st.datetimes().map(lambda t: t.isoformat() + "Z")
    return st.text(min_size=1 if meta.get("nonempty") else 0, max_size=meta.get("max_length") or 20)


@pytest.mark.parametrize("cls", [getattr(schemas, name) for name in json_schemas(*schemas.ALL)],
                         ids=lambda c: c.__name__)
def test_every_api_shape_decodes_what_encode_writes(cls):
    """Every class of the API, nested ones included, with every field at default and beyond it."""
    @given(instances(cls))
    def round_trip(value):
        assert decode(cls, json.loads(json.dumps(encode(value)))) == value
    round_trip()


class TestEncode:
    def test_fields_in_class_order_and_null_kept(self):
        shape = Shape([Point(1, "a")], None)
        assert list(encode(shape)) == ["points", "parent", "at"] and encode(shape)["parent"] is None

    def test_an_omit_default_field_is_absent_while_it_holds_its_default(self):
        attachment = schemas.Attachment("u1", "a.png", 3, "image/png", "/media/x")
        assert encode(attachment) == {"id": "u1", "name": "a.png", "size": 3, "content_type": "image/png",
                                      "url": "/media/x", "thumbnail": None}
        assert encode(dataclasses.replace(attachment, thumbnail_pending=True))["thumbnail_pending"] is True

    def test_a_problem_carries_only_the_members_it_was_given(self):
        error = schemas.Error(schemas.ErrorDetail("too_many", "Slow down.", quota="max_open_uploads", limit=3))
        assert encode(error) == {"error": {"code": "too_many", "message": "Slow down.", "hint": "",
                                           "quota": "max_open_uploads", "limit": 3}}
        with pytest.raises(TypeError):
            schemas.ErrorDetail("x", "y", undocumented=1)

    def test_only_a_field_with_a_default_may_be_omitted(self):
        with pytest.raises(TypeError):
            prop(omit_default=True)

    def test_choices_are_checked_and_described(self):
        with pytest.raises(WireError, match=r"quota should be one of max_open_uploads, daily_bytes_per_identity"):
            decode(schemas.ErrorDetail, {"code": "c", "message": "m", "quota": "other"})
        assert json_schema(schemas.ErrorDetail)["properties"]["quota"]["anyOf"][0]["enum"] == [
            "max_open_uploads", "daily_bytes_per_identity"]
