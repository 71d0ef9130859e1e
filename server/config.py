"""Server configuration: one TOML file, validated up front.

Why strict: a typo in a config key silently falling back to a default is the
kind of bug found in production, so unknown keys are errors. Every error is a
`ConfigError` with a one-line message; `__main__` prints it and exits 2.
"""

from __future__ import annotations

import hmac
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.restrictions import Restrictions

DEFAULT_CONFIG = Path(__file__).with_name("default.toml")
_TABLES = ("attachments", "identities", "server")
_SERVER_KEYS = ("cors_allow_origins",)
_IDENTITY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_UPLOAD_EXPIRY = 24 * 3600.0


class ConfigError(ValueError):
    """A configuration problem, phrased for the person editing the file."""


@dataclass(frozen=True)
class Config:
    restrictions: Restrictions
    identities: dict[str, str]          # identity name -> bearer token
    cors_allow_origins: tuple[str, ...]
    source: str = ""
    upload_expiry: float = DEFAULT_UPLOAD_EXPIRY   # seconds an unsent upload is kept after its last activity

    def identity_for(self, token: str) -> str | None:
        """Constant-time over all tokens so timing does not leak a prefix."""
        found = None
        for name, expected in self.identities.items():
            if hmac.compare_digest(expected.encode(), token.encode()):
                found = name
        return found


def parse_duration(value: object) -> float:
    """'24h', '30m', '7d', '90s' or a number of seconds -> seconds (> 0); ValueError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{value!r} is not a duration like '24h', '30m', '7d', '90s' or a number of seconds")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{value!r} must be a positive duration")
    return seconds


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


def load_config(path: str | Path | None = None) -> Config:
    """Load `path` over the defaults: a setting absent from `path` keeps its default;
    [identities], when given, replaces the default (dev) identities whole."""
    data = dict(_read(DEFAULT_CONFIG))
    where = str(DEFAULT_CONFIG)
    if path is not None:
        where = str(path)
        user = _read(Path(path))
        unknown = sorted(set(user) - set(_TABLES))
        if unknown:
            raise ConfigError(f"{where}: unknown table or key {unknown[0]!r} (known: {', '.join(_TABLES)})")
        for table, values in user.items():
            # Settings merge key by key with the defaults; identities never do, so
            # the dev tokens are gone as soon as an administrator names identities.
            merge = table != "identities" and isinstance(values, dict) and isinstance(data.get(table), dict)
            data[table] = {**data[table], **values} if merge else values
    return _build(data, where)


def _build(data: dict[str, Any], where: str) -> Config:
    for table in _TABLES:
        if not isinstance(data.get(table), dict):
            raise ConfigError(f"{where}: [{table}] must be a table")
    attachments = dict(data["attachments"])
    try:
        upload_expiry = parse_duration(attachments.pop("upload_expiry", DEFAULT_UPLOAD_EXPIRY))
    except ValueError as e:
        raise ConfigError(f"{where}: [attachments] upload_expiry: {e}") from None
    try:
        restrictions = Restrictions.from_mapping(attachments)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: [attachments] {e}") from None

    identities: dict[str, str] = {}
    for name, token in data["identities"].items():
        if not _IDENTITY.match(name):
            raise ConfigError(f"{where}: [identities] {name!r} is not a valid identity name (letters, digits, _ -)")
        if not isinstance(token, str) or len(token) < 8 or token != token.strip():
            raise ConfigError(f"{where}: [identities] {name} must be a token string of at least 8 characters")
        if token in identities.values():
            raise ConfigError(f"{where}: [identities] {name} reuses another identity's token")
        identities[name] = token
    if not identities:
        raise ConfigError(f"{where}: [identities] is empty; nobody could sign in")

    server = data["server"]
    unknown = sorted(set(server) - set(_SERVER_KEYS))
    if unknown:
        raise ConfigError(f"{where}: [server] unknown key {unknown[0]!r} (known: {', '.join(_SERVER_KEYS)})")
    origins = server.get("cors_allow_origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ConfigError(f"{where}: [server] cors_allow_origins must be a list of strings")
    for origin in origins:
        if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
            raise ConfigError(
                f"{where}: [server] cors_allow_origins: {origin!r} is not an origin like 'https://portal.example.com'"
            )
    return Config(restrictions, identities, tuple(origins), where, upload_expiry)
