"""JSON shapes defined once, as dataclasses: decoded with field checks, described as JSON Schema.

A wire dataclass says what a JSON object holds (types from its annotations,
rules from :func:`prop`). The same definition serves three readers::

    msg = decode(schemas.Message, json_value, "message")   # checked, or WireError
    encode(msg)                                             # back to JSON values
    json_schema(schemas.Message)                            # for the OpenAPI document

Supported field types: ``str``, ``int``, ``float``, ``bool``, another wire
dataclass, ``tuple[T, ...]`` / ``list[T]`` of those, and ``T | None``. Keys the
class does not name are ignored, so a server may add fields without breaking
older pages. A field with a default may be absent or null; one marked
``omit_default`` is left out of ``encode``'s JSON while it holds its default
(``thumbnail_pending`` is sent only while true).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["WireError", "decode", "encode", "json_schema", "json_schemas", "prop"]

_NO_DEFAULT: Any = dataclasses.MISSING
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SCALAR_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


class WireError(ValueError):
    """A JSON value does not fit its wire class; the message names the path (``history.messages[2].id``)."""


def prop(*, default: Any = _NO_DEFAULT, nonempty: bool = False, minimum: int | None = None,
         max_length: int | None = None, fmt: str | None = None, choices: tuple[str, ...] = (),
         omit_default: bool = False, description: str = "") -> Any:
    """A wire field with its rules: ``nonempty``/``max_length``/``choices`` for strings,
    ``minimum`` for integers, ``fmt="date-time"`` for ISO 8601 times; ``omit_default``:
    absent from ``encode``'s JSON while the field holds its default."""
    meta = {"nonempty": nonempty, "minimum": minimum, "max_length": max_length, "fmt": fmt,
            "choices": choices, "omit_default": omit_default, "description": description}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple or None as a wire default")
    if omit_default and default is _NO_DEFAULT:
        raise TypeError("only a field with a default can be omitted")
    return dataclasses.field(default=default, metadata=meta)


# ----------------------------------------------------------------- decoding

def decode(cls: type, value: Any, where: str = "") -> Any:
    """``value`` (parsed JSON) as an instance of the wire dataclass ``cls``; WireError when it does not fit."""
    return _object(cls, value, where or cls.__name__.lower())


# Each class is read through decoders made once from its annotations: resolving annotations
# (PEP 563 strings) and dispatching on types for every value was most of the time a page of
# 100 messages took to decode, which matters in the browser.
Decoder = Callable[[Any, str], Any]


@functools.cache
def _plan(cls: type) -> tuple[tuple[str, bool, bool, Decoder], ...]:
    """(name, has a default, may be absent, decoder) for each field of ``cls``."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, f.default is not _NO_DEFAULT, _optional(hints[f.name]), _decoder(hints[f.name], f.metadata))
                 for f in dataclasses.fields(cls))


def _object(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise WireError(f"{where} should be an object")
    kwargs = {}
    for name, has_default, optional, read in _plan(cls):
        raw = value.get(name)
        if raw is None and has_default:
            continue  # absent or null: the default
        if raw is None and name not in value and not optional:
            raise WireError(f"{where}.{name} is missing")
        kwargs[name] = read(raw, f"{where}.{name}")
    return cls(**kwargs)


def _decoder(tp: Any, meta: Any) -> Decoder:
    args = typing.get_args(tp)
    if _optional(tp):
        inner = _decoder(next(a for a in args if a is not type(None)), meta)
        return lambda raw, path: None if raw is None else inner(raw, path)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        item, make = _decoder(args[0], {}), (tuple if origin is tuple else list)

        def sequence(raw: Any, path: str) -> Any:
            if not isinstance(raw, list):
                raise WireError(f"{path} should be a list")
            return make([item(x, f"{path}[{i}]") for i, x in enumerate(raw)])
        return sequence
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return lambda raw, path: _object(tp, raw, path)
    if tp in _SCALARS:
        return functools.partial(_scalar, tp, meta=meta)
    raise TypeError(f"wire fields cannot be {tp!r}")


def _scalar(tp: type, raw: Any, path: str, meta: Any) -> Any:
    # bool is an int subclass, and 3.0 is not an integer on the wire.
    fits = isinstance(raw, tp) and (tp is bool or not isinstance(raw, bool))
    if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
        fits, raw = True, float(raw)
    if not fits:
        raise WireError(f"{path} should be {_SCALAR_WORDS[tp]}")
    if meta.get("nonempty") and not raw:
        raise WireError(f"{path} should not be empty")
    if meta.get("max_length") is not None and len(raw) > meta["max_length"]:
        raise WireError(f"{path} should be at most {meta['max_length']} characters")
    if meta.get("choices") and raw not in meta["choices"]:
        raise WireError(f"{path} should be one of {', '.join(meta['choices'])}")
    if meta.get("minimum") is not None and raw < meta["minimum"]:
        raise WireError(f"{path} should be at least {meta['minimum']}")
    if meta.get("fmt") == "date-time":
        try:
            datetime.fromisoformat(raw)
        except ValueError:
            raise WireError(f"{path} should be an ISO 8601 time") from None
    return raw


def _optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


# ----------------------------------------------------------------- encoding

def encode(obj: Any) -> Any:
    """A wire dataclass instance as JSON values, fields in their class's order (tuples become lists);
    an ``omit_default`` field holding its default is left out. The server answers through this."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if not (f.metadata.get("omit_default") and value == f.default):
                out[f.name] = encode(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [encode(item) for item in obj]
    return obj


# ----------------------------------------------------------------- JSON Schema

def json_schema(cls: type) -> dict[str, Any]:
    """A JSON Schema (2020-12) of ``cls``; nested wire classes go into ``$defs``."""
    defs: dict[str, Any] = {}
    schema = _object_schema(cls, "#/$defs/", defs)
    defs.pop(cls.__name__, None)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, **({"$defs": defs} if defs else {})}


def json_schemas(*classes: type, ref_prefix: str = "#/components/schemas/") -> dict[str, Any]:
    """Schemas of ``classes`` and every class they nest, by name: OpenAPI's ``components.schemas``."""
    found: dict[str, Any] = {}
    for cls in classes:
        found[cls.__name__] = _object_schema(cls, ref_prefix, found)
    return found


def _object_schema(cls: type, prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a wire dataclass")
    hints = typing.get_type_hints(cls)
    properties, required = {}, []
    for f in dataclasses.fields(cls):
        schema = _schema(hints[f.name], prefix, defs, f.metadata)
        if f.metadata.get("description"):
            schema = {**schema, "description": f.metadata["description"]}
        if f.default is _NO_DEFAULT:
            required.append(f.name)
        else:
            schema = {**schema, "default": encode(f.default)}
        properties[f.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    doc = (cls.__doc__ or "").strip()
    if doc and not doc.startswith(cls.__name__ + "("):  # not the signature dataclass writes
        out = {"description": " ".join(doc.split()), **out}
    return out


def _schema(tp: Any, prefix: str, defs: dict[str, Any], meta: Any) -> dict[str, Any]:
    args = typing.get_args(tp)
    if _optional(tp):
        inner = next(a for a in args if a is not type(None))
        return {"anyOf": [_schema(inner, prefix, defs, meta), {"type": "null"}]}
    if typing.get_origin(tp) in (list, tuple):
        return {"type": "array", "items": _schema(args[0], prefix, defs, {})}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # placed first: a class that nests itself stops here
            defs[tp.__name__] = _object_schema(tp, prefix, defs)
        return {"$ref": prefix + tp.__name__}
    if tp not in _SCALARS:
        raise TypeError(f"wire fields cannot be {tp!r}")
    schema: dict[str, Any] = {"type": _SCALARS[tp]}
    rules = {"minLength": 1 if meta.get("nonempty") else None, "maxLength": meta.get("max_length"),
             "minimum": meta.get("minimum"), "format": meta.get("fmt"), "enum": list(meta.get("choices") or ()) or None}
    return {**schema, **{k: v for k, v in rules.items() if v is not None}}
