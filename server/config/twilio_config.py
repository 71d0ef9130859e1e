"""The `[twilio]` table (`[backend] kind = "twilio"`: server/config/backend_kind.py), validated up front.

Why secrets live in files: a TOML file gets copied, pasted into tickets and
committed; a secret file next to it (chmod 600, or a mounted secret) does not.
The secrets are wrapped in `Secret`, whose repr/str never show the value, so a
stray log line or traceback cannot leak them; only `reveal()` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from server.config.config_error import ConfigError

DEFAULT_API_BASE = "https://conversations.twilio.com"
DEFAULT_MEDIA_BASE = "https://mcs.us1.twilio.com"
_SIDS = {"account_sid": "AC", "api_key_sid": "SK", "chat_service_sid": "IS"}
_FILES = ("api_key_secret_file", "auth_token_file")
_URLS = ("public_url", "api_base_url", "media_base_url")
KEYS = (*_SIDS, *_FILES, *_URLS)
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
SECRET_FILE_LIMIT = 4096


class Secret:
    """A string that prints as `<hidden>`; `reveal()` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    api_key_sid: str
    api_key_secret: Secret
    auth_token: Secret
    chat_service_sid: str
    public_url: str                      # no trailing slash; what Twilio calls back
    api_base_url: str = DEFAULT_API_BASE
    media_base_url: str = DEFAULT_MEDIA_BASE

    @property
    def webhook_url(self) -> str:
        """The exact URL to set in the Conversations service; signatures are computed over it."""
        return self.public_url + "/twilio/webhook"

    @classmethod
    def from_mapping(cls, table: Any, config_dir: str | Path, where: str = "[twilio]") -> TwilioSettings:
        """From the parsed `[twilio]` table; secret files are relative to `config_dir`."""
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise ConfigError(f"{where} unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
        values: dict[str, Any] = {}
        for key, prefix in _SIDS.items():
            value = _required(table, key, where)
            if not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value):
                raise ConfigError(f"{where} {key} must be a {prefix}... SID of 34 characters "
                                  f"('{prefix}' and 32 hex digits), as shown in the Twilio Console")
            values[key] = value
        values["api_key_secret"] = _read_secret(table, "api_key_secret_file", Path(config_dir), where)
        values["auth_token"] = _read_secret(table, "auth_token_file", Path(config_dir), where)
        values["public_url"] = _url(_required(table, "public_url", where), "public_url", where, public=True)
        for key, default in (("api_base_url", DEFAULT_API_BASE), ("media_base_url", DEFAULT_MEDIA_BASE)):
            raw = table.get(key, default)
            if not isinstance(raw, str):
                raise ConfigError(f"{where} {key} must be a URL string")
            values[key] = _url(raw, key, where, public=False)
        return cls(**values)


def _required(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if value is None:
        raise ConfigError(f"{where} {key} is missing")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} {key} must be a non-empty string")
    return value.strip()


def _read_secret(table: Mapping[str, Any], key: str, config_dir: Path, where: str) -> Secret:
    """The file's content, stripped; errors name the file, never what is in it."""
    path = config_dir / _required(table, key, where)
    try:
        raw = path.read_bytes()[: SECRET_FILE_LIMIT + 1]
    except FileNotFoundError:
        raise ConfigError(f"{where} {key}: {path} does not exist (paths are relative to the config file)") from None
    except IsADirectoryError:
        raise ConfigError(f"{where} {key}: {path} is a directory, not a file") from None
    except OSError as e:
        raise ConfigError(f"{where} {key}: cannot read {path}: {e.strerror}") from None
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{where} {key}: {path} is not UTF-8 text") from None
    if not value:
        raise ConfigError(f"{where} {key}: {path} is empty")
    if len(raw) > SECRET_FILE_LIMIT or any(c.isspace() for c in value):
        raise ConfigError(f"{where} {key}: {path} must hold the secret alone, on one line")
    return Secret(value)


def _url(value: str, key: str, where: str, public: bool) -> str:
    parts = urlsplit(value.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"{where} {key}: {value!r} is not a URL like 'https://attache.example.com'")
    if public and parts.scheme != "https" and host not in _LOCAL_HOSTS:
        raise ConfigError(f"{where} {key}: Twilio must call back over https ({value!r})")
    return value.strip().rstrip("/")
