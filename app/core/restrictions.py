"""What may be attached, and the one function that judges a file against it.

One source of truth: the browser judges a picked file with `check`, and the
server re-judges every upload with the same function (first with no head,
then with the first bytes), so both always give the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.core import filetypes, schemas
from app.core.humanize import human_size, type_label, with_article
from app.core.models import FileInfo, Problem
from app.core.sniff import HEAD_SIZE, claimed_type, looks_binary, sniff, type_from_name
from app.core.wire import encode

_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1,
          "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d[\d_]*(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*")
_EXTENSION = re.compile(r"\.[a-z0-9][a-z0-9._+-]*")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)")
_KEYS = ("max_file_size", "accepted_types", "max_files_per_message")

def parse_size(value: object) -> int:
    """Bytes from config: 1000 (bytes), "25 MB" (SI: 25,000,000), "25 MiB" (25 * 2**20); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}: expected bytes or text such as '25 MB'")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid size {value}: a size cannot be negative")
        return value
    match = _SIZE.fullmatch(value.lower()) if isinstance(value, str) else None
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"invalid size {value!r}: write bytes, or a number with a unit such as "
                         f"'25 MB' (SI) or '10 MiB' (binary)")
    try:
        exact = Decimal(match.group(1).replace("_", "")) * _UNITS[match.group(2)]
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        raise ValueError(f"invalid size {value!r}") from None
    if exact != exact.to_integral_value():
        raise ValueError(f"invalid size {value!r}: it is not a whole number of bytes")
    return int(exact)


@dataclass(frozen=True)
class Restrictions:
    """The attachment rules of a conversation; patterns follow HTML's <input accept>.

    `type_limits` and `channel` come from a bridged channel (Twilio's WhatsApp:
    images up to 5 MB), named in the hint and in refusals; the JSON carries
    them (`from_json`), an administrator's [attachments] table cannot (`from_mapping`).
    """

    max_file_size: int = 25_000_000
    accepted_types: tuple[str, ...] = ()
    max_files_per_message: int = 1
    type_limits: tuple[tuple[str, int], ...] = ()   # (accept pattern, a smaller limit in bytes)
    channel: str = ""                               # for people: "WhatsApp"; "" = this server's own rules
    max_text_length: int = 0                        # a bridged channel's text limit (SMS: 1,600); 0 = none here

    def __post_init__(self) -> None:
        size, count = self.max_file_size, self.max_files_per_message
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"max_file_size: must be a positive number of bytes, got {size!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"max_files_per_message: must be a whole number of at least 1, got {count!r}")
        object.__setattr__(self, "accepted_types", _patterns(self.accepted_types))
        object.__setattr__(self, "type_limits", _type_limits(self.type_limits))
        text = self.max_text_length
        if isinstance(text, bool) or not isinstance(text, int) or text < 0:
            raise ValueError(f"max_text_length: must be a whole number of characters, got {text!r}")
        if not isinstance(self.channel, str) or len(self.channel) > 40:
            raise ValueError(f"channel: must be a name of at most 40 characters, got {self.channel!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], keys: tuple[str, ...] = _KEYS) -> Restrictions:
        """From the TOML [attachments] table or the /api/restrictions JSON."""
        if not isinstance(data, Mapping):
            raise ValueError(f"attachments: expected a table of settings, got {type(data).__name__}")
        unknown = [key for key in data if key not in keys]
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown setting (known: {', '.join(keys)})")
        kwargs: dict[str, Any] = dict(data)
        if "max_file_size" in kwargs:
            try:
                kwargs["max_file_size"] = parse_size(kwargs["max_file_size"])
            except ValueError as error:
                raise ValueError(f"max_file_size: {error}") from None
        count = kwargs.get("max_files_per_message")
        if isinstance(count, str) and count.strip().isdigit():
            kwargs["max_files_per_message"] = int(count)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Restrictions:
        """The inverse of `to_json` (a conversation's rules, a bridged channel's included)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"restrictions: expected an object, got {type(data).__name__}")
        limits = data.get("type_limits", [])
        if not isinstance(limits, (list, tuple)) or not all(isinstance(t, Mapping) for t in limits):
            raise ValueError("type_limits: expected a list of {types, max_file_size}")
        pairs = tuple((t.get("types"), t.get("max_file_size")) for t in limits)
        return cls.from_mapping({**data, "type_limits": pairs}, _KEYS + ("type_limits", "channel", "max_text_length"))

    def to_json(self, limit: str = "") -> dict[str, Any]:
        """The API's `schemas.Restrictions` JSON; `limit`: a bridged channel's limits in words."""
        return encode(self.wire(limit))

    def wire(self, limit: str = "") -> schemas.Restrictions:
        """These rules as the wire dataclass (what `to_json` encodes)."""
        return schemas.Restrictions(
            self.max_file_size, self.accepted_types, self.max_files_per_message,
            tuple(schemas.TypeLimit(p, n) for p, n in self.type_limits), self.channel, self.max_text_length, limit)

    def accept_attribute(self) -> str:
        """The value for <input type=file accept=…>; "" when everything is accepted."""
        return ",".join(self.accepted_types)

    def describe_limit(self) -> str:
        """'Up to 25 MB · images, PDF, text': the rules in words, for the composer.

        On a bridged channel it starts with the channel and says its smaller
        limits: 'WhatsApp: up to 16 MB (images up to 5 MB) · JPEG images, …'.
        """
        extra = "".join(f" ({_describe(p)} up to {_limit_text(n)})" for p, n in self.type_limits)
        lead = f"{self.channel}: up to" if self.channel else "Up to"
        return f"{lead} {_limit_text(self.max_file_size)}{extra} · {self.describe_accepted()}"

    def describe_accepted(self) -> str:
        """'images, PDF, text, Word documents': the accepted patterns in words."""
        if not self.accepted_types:
            return "all types"
        words: list[str] = []
        for pattern in self.accepted_types:
            word = _describe(pattern)
            if word not in words:
                words.append(word)
        return ", ".join(words)


def check(info: FileInfo, r: Restrictions) -> list[Problem]:
    """Every rule the file breaks, [] when it may be sent.

    Order: empty, then the type (type_mismatch or type_not_accepted), then too_large.
    A name claiming a type with a signature (PDF, PNG, JPEG, GIF, WebP, Office
    files: `FileType.signature`) is believed only when the content carries it.
    `info.head` is the first bytes; b"" means not known yet (the server at
    upload start), and then the type is judged by name and declared type only.
    """
    name = info.name.strip() or "This file"
    problems: list[Problem] = []
    if info.size == 0:
        problems.append(Problem("empty", f"{name} is empty",
                                "Pick a file that has content; empty files cannot be sent."))
    type_problem = _judge_type(info, r, name)
    if type_problem is not None:
        problems.append(type_problem)
    limit, kind = r.max_file_size, ""
    if not problems and r.type_limits:
        candidate = claimed_type(info) or (sniff(bytes(info.head[:HEAD_SIZE])) if info.head else None)
        for pattern, smaller in r.type_limits:
            if smaller < limit and _matches(pattern, info.name, candidate):
                limit, kind = smaller, f" for {_describe(pattern)}"
    if info.size > limit:
        size, limit_text = human_size(info.size), _limit_text(limit)
        if size == human_size(limit):  # "25.0 MB; the limit is 25 MB" would puzzle
            size, limit_text = f"{info.size:,} bytes", f"{limit:,} bytes"
        where = f" on {r.channel}" if r.channel else ""
        problems.append(Problem("too_large", f"{name} is {size}; the limit{where}{kind} is {limit_text}",
                                "Pick a smaller file, or compress it first."))
    return problems


def check_text(text: str, r: Restrictions) -> list[Problem]:
    """The text's problem on a channel that limits it ([] when it may be sent), before anything is sent."""
    if not r.max_text_length or len(text) <= r.max_text_length:
        return []
    where = f" on {r.channel}" if r.channel else ""
    return [Problem("text_too_long", f"The message is {len(text):,} characters; the limit{where} is "
                    f"{r.max_text_length:,}", "Split it into several messages.")]


def _judge_type(info: FileInfo, r: Restrictions, name: str) -> Problem | None:
    head = bytes(info.head[:HEAD_SIZE])
    claimed = claimed_type(info)
    sniffed = sniff(head) if head else None
    if claimed is not None and head:
        says = "its name says" if type_from_name(info.name) else "its declared type says"
        looks = None
        if sniffed is not None and not filetypes.consistent(claimed, sniffed):
            looks = with_article(type_label(sniffed))
        elif sniffed is None and filetypes.family(claimed) in ("text", "markup") and looks_binary(head):
            looks = "binary data"
        elif sniffed is None and filetypes.signature_required(claimed):
            looks = "binary data" if looks_binary(head) else "text"  # an invoice.pdf that is a script
        if looks is not None:
            return Problem("type_mismatch", f"{name}: its content is not what {says} (it looks like {looks})",
                           "Renaming a file does not change what it is; pick the file you meant to send.")
    if not r.accepted_types:
        return None
    candidate = claimed or sniffed
    if any(_matches(p, info.name, candidate) for p in r.accepted_types):
        return None
    if candidate is None and not head:
        return None  # nothing to judge by yet: the first bytes will decide
    refused = f"cannot be sent on {r.channel}" if r.channel else "is not accepted"
    return Problem("type_not_accepted", f"{name}: this type {refused} (accepted: {r.describe_accepted()})",
                   "Pick a file of an accepted type.")


def _matches(pattern: str, name: str, content_type: str | None) -> bool:
    """HTML accept semantics: '.pdf' by extension (or the type it stands for), 'image/*', exact type."""
    if pattern.startswith("."):
        if name.strip().lower().endswith(pattern):
            return True
        return content_type is not None and type_from_name("x" + pattern) == content_type
    if content_type is None:
        return False
    if pattern.endswith("/*"):
        return content_type.startswith(pattern[:-1])
    return content_type == pattern


def _patterns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"accepted_types: expected a list of patterns, got {type(value).__name__}")
    patterns: list[str] = []
    for item in value:
        pattern = item.strip().lower() if isinstance(item, str) else item
        if not isinstance(pattern, str) or not (_EXTENSION.fullmatch(pattern) or _MIME.fullmatch(pattern)):
            raise ValueError(f"accepted_types: {item!r} is not a pattern such as '.pdf', 'image/*' "
                             f"or 'application/pdf'")
        if pattern not in patterns:
            patterns.append(pattern)
    return tuple(patterns)


def _type_limits(value: Any) -> tuple[tuple[str, int], ...]:
    """(pattern, bytes) pairs, each judged like accepted_types and max_file_size."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(i, (list, tuple)) and len(i) == 2 for i in value):
        raise ValueError(f"type_limits: expected (pattern, size) pairs, got {value!r}")
    pairs = tuple((_patterns([pattern])[0], parse_size(size)) for pattern, size in value)
    if any(size <= 0 for _, size in pairs):
        raise ValueError("type_limits: every limit must be positive")
    return pairs


def _describe(pattern: str) -> str:
    """'image/*' -> 'images', '.docx' -> 'Word documents'; a pattern the table cannot name stays as written."""
    if pattern.endswith("/*"):
        major = filetypes.GROUPS.get(pattern[:-2])
        return major.plural if major is not None else pattern
    content_type = type_from_name("x" + pattern) if pattern.startswith(".") else pattern
    row = filetypes.lookup(content_type)
    return row.plural if row is not None and row.plural else pattern


def _limit_text(n: int) -> str:
    """Limits are round numbers people chose: '25 MB', not '25.0 MB'."""
    text = human_size(n)
    return text.replace(".0 ", " ") if ".0 " in text else text
