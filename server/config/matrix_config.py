"""`[backend] kind = "matrix"`: the page talks to a Matrix homeserver.

Why a kind of its own: the reference server only serves the page and its
config in this mode, so the Matrix settings are a value of their own
(validated as strictly as the rest: unknown keys are errors) that `static.py`
turns into the page config and the page's Content-Security-Policy. It plugs
into server/config/backend_kind.py like the Twilio kind does.

    [backend]
    kind = "matrix"
    homeserver = "https://matrix.example"   # the client-server API's base URL
    room = "#support:matrix.example"        # or a room id "!abc..."

    [backend.identities]                    # development: an access token per identity (?as= picks one)
    agent = "syt_..."
    customer = { token = "syt_...", user_id = "@customer:matrix.example", name = "Customer" }

The same keys may sit in a `[matrix]` table (`[matrix.identities]`) instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.core.restrictions import Restrictions
from server.config.config_error import ConfigError

KEYS = ("homeserver", "room", "identities")
_IDENTITY_KEYS = ("token", "user_id", "name")
_IDENTITY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_ROOM = re.compile(r"^(![^\s/:]+(:\S+)?|#[^\s/:]+:\S+)$")
_USER = re.compile(r"^@[^\s:]+:\S+$")


@dataclass(frozen=True)
class MatrixSettings:
    homeserver: str
    room: str
    identities: dict[str, dict[str, str]] = field(repr=False)  # name -> {"token", "user_id"?, "name"}

    @property
    def origin(self) -> str:
        """The homeserver's origin, for the page's connect-src."""
        parts = urlsplit(self.homeserver)
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"

    def page_backend(self, restrictions: Restrictions, token_url: str | None = None) -> dict[str, Any]:
        """The page config's `backend` table (MatrixConversation.from_config reads it).

        Development: every identity with its token. Production (`token_url` given):
        no token; the page gets one the way it gets the reference backend's."""
        backend: dict[str, Any] = {"adapter": "matrix", "homeserver": self.homeserver, "room": self.room,
                                   "attachments": restrictions.to_json()}
        if token_url is None:
            backend["identities"] = {name: dict(entry) for name, entry in self.identities.items()}
        else:
            backend["token_url"] = token_url
        return backend

    @classmethod
    def from_mapping(cls, table: Any, where: str = "[matrix]", production: bool = False) -> MatrixSettings:
        """From the parsed settings table ([backend] or [matrix]); static tokens only without [auth] (development)."""
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise ConfigError(f"{where} unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
        homeserver = table.get("homeserver")
        parts = urlsplit(homeserver if isinstance(homeserver, str) else "")
        if not isinstance(homeserver, str) or parts.scheme not in ("http", "https") or not parts.netloc \
                or parts.query or parts.fragment:
            raise ConfigError(f"{where} homeserver must be the homeserver's URL, e.g. 'https://matrix.example'")
        room = table.get("room")
        if not isinstance(room, str) or not _ROOM.match(room):
            raise ConfigError(f"{where} room must be a room id like '!abc:matrix.example' "
                              "or an alias like '#support:matrix.example'")
        identities = _identities(table.get("identities", {}), f"{where[:-1]}.identities]")
        if not identities and not production:
            raise ConfigError(f"{where[:-1]}.identities] is empty; give each identity a Matrix access token")
        if identities and production:
            raise ConfigError(f"{where[:-1]}.identities] static tokens are refused with [auth] (production): "
                              "the page gets its token from token_url")
        return cls(homeserver.rstrip("/"), room, identities)


def _identities(table: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of identity -> access token")
    found: dict[str, dict[str, str]] = {}
    for name, entry in table.items():
        if not _IDENTITY.match(name):
            raise ConfigError(f"{where} {name!r} is not a valid identity name")
        entry = {"token": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, Mapping) or set(entry) - set(_IDENTITY_KEYS):
            raise ConfigError(f"{where} {name} must be a token, or a table with {', '.join(_IDENTITY_KEYS)}")
        token = entry.get("token")
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise ConfigError(f"{where} {name}: the token must be a non-empty string without spaces")
        user_id = entry.get("user_id", "")
        if user_id and (not isinstance(user_id, str) or not _USER.match(user_id)):
            raise ConfigError(f"{where} {name}: user_id must look like '@name:matrix.example'")
        label = entry.get("name") or name.replace("_", " ").title()
        if not isinstance(label, str):
            raise ConfigError(f"{where} {name}: name must be a string")
        found[name] = {"token": token, "name": label, **({"user_id": user_id} if user_id else {})}
    return found
