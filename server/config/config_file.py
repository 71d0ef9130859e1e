"""Server configuration: one TOML file, validated up front.

Why strict: a typo in a config key silently falling back to a default is the
kind of bug found in production, so unknown keys are errors. Every error is a
`ConfigError` with a one-line message; `__main__` prints it and exits 2.

Why two modes: without an `[auth]` table the server is a development demo
(static tokens from `[identities]`, handed to anyone by the page config);
with `[auth]` it is a deployment whose users arrive with tokens signed by the
portal, and static tokens are refused so none can be left behind by mistake.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.restrictions import Restrictions, parse_size
from server.config.backend_kind import backend_kind, backend_settings
from server.config.broker_config import broker_url, refuse_shared_database_without_broker
from server.config.config_error import ConfigError
from server.config.database_config import database_url
from server.config.matrix_config import MatrixSettings
from server.config.storage_config import StorageConfig, storage_config
from server.config.twilio_config import TwilioSettings

DEFAULT_CONFIG = Path(__file__).with_name("default.toml")
_TABLES = ("attachments", "identities", "server", "auth",
           "backend", "twilio", "matrix",      # these three: server/config/backend_kind.py
           "broker", "database", "storage")    # server/config/broker_config.py, database_config.py, storage_config.py
_SERVER_KEYS = ("cors_allow_origins", "cors_allow_credentials", "embed_origins", "limit_concurrency",
                "timeout_keep_alive", "timeout_request_headers", "max_streams_per_identity", "public_origin")
_AUTH_KEYS = ("secret_file", "token_url", "media_link_ttl", "audience", "issuer")
_IDENTITY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_ORIGIN = re.compile(r"^https?://[^/\s]+$")
_DURATION = re.compile(r"^\s*(\d{1,9}(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_SECRET_BYTES = 32
DEFAULT_MEDIA_LINK_TTL = 3600
DEFAULT_UPLOAD_EXPIRY = 24 * 3600.0
DEFAULT_MAX_OPEN_UPLOADS = 20
DEFAULT_DAILY_BYTES = 5_000_000_000     # or max_file_size, when that is larger


@dataclass(frozen=True)
class AuthConfig:
    """Production mode: the portal signs tokens (HS256) with the key in `secret_file`."""
    secret: bytes = field(repr=False)   # never printed
    secret_file: str
    token_url: str = ""
    audience: str = ""                  # the `aud` every token must name; "" = tokens carry no `aud`
    issuer: str = ""                    # the `iss` every token must carry; "" = not checked


@dataclass(frozen=True)
class Config:
    restrictions: Restrictions
    identities: dict[str, str]          # development only: identity name -> bearer token
    cors_allow_origins: tuple[str, ...]
    source: str = ""
    auth: AuthConfig | None = None
    media_link_ttl: int = DEFAULT_MEDIA_LINK_TTL
    embed_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = False
    limit_concurrency: int = 1000
    timeout_keep_alive: int = 5
    timeout_request_headers: int = 5    # seconds a request's headers may take to arrive (408 beyond)
    max_streams_per_identity: int = 5
    public_origin: str = ""             # where users reach the server ("https://..." makes HSTS unconditional)
    upload_expiry: float = DEFAULT_UPLOAD_EXPIRY   # seconds an unsent upload is kept after its last activity
    max_open_uploads: int = DEFAULT_MAX_OPEN_UPLOADS          # unfinished uploads per identity at once
    daily_bytes_per_identity: int = DEFAULT_DAILY_BYTES       # bytes an identity may upload per 24 hours
    backend: str = "reference"          # [backend] kind
    twilio: TwilioSettings | None = None   # with kind = "twilio": the [twilio] table, secrets read
    matrix: MatrixSettings | None = None   # with kind = "matrix": its settings (the page talks to it)
    database_url: str | None = field(default=None, repr=False)   # [database] PostgreSQL; None: SQLite in --data
    storage: StorageConfig | None = None   # [storage]: an S3 bucket for the bytes; None: the --data folder
    broker_url: str | None = None       # [broker] url (Redis); None: in-process, one process only

    @property
    def mode(self) -> str:
        return "production" if self.auth is not None else "development"


def parse_duration(value: object) -> float:
    """'24h', '30m', '7d', '90s' or a number of seconds -> seconds (> 0); ValueError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"invalid duration {value!r}: "
                             "write seconds, or a number with s, m, h or d such as '24h', '30m', '7d'")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{value!r} must be a positive duration")
    return seconds


def _whole_seconds(seconds: float) -> int:
    if seconds != int(seconds):
        raise ValueError(f"{seconds} s is not a whole number of seconds")
    return int(seconds)


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
    [identities], when given, replaces the default (dev) identities whole; with
    [auth] there are no static identities at all."""
    data = dict(_read(DEFAULT_CONFIG))
    where, base = str(DEFAULT_CONFIG), DEFAULT_CONFIG.parent
    if path is not None:
        where, base = str(path), Path(path).resolve().parent
        user = _read(Path(path))
        refuse_shared_database_without_broker(user, where)
        unknown = sorted(set(user) - set(_TABLES))
        if unknown:
            raise ConfigError(f"{where}: unknown table or key {unknown[0]!r} (known: {', '.join(_TABLES)})")
        if "auth" in user:
            if "identities" in user:
                raise ConfigError(f"{where}: [identities] static tokens are refused with [auth] (production): "
                                  "users sign in with tokens from your portal; remove [identities]")
            data["identities"] = {}        # the dev tokens never survive into production
        for table, values in user.items():
            # Settings merge key by key with the defaults; identities never do, so
            # the dev tokens are gone as soon as an administrator names identities.
            merge = table != "identities" and isinstance(values, dict) and isinstance(data.get(table), dict)
            data[table] = {**data[table], **values} if merge else values
    return _build(data, where, base)


def _build(data: dict[str, Any], where: str, base: Path) -> Config:
    for table in _TABLES:
        if table in data and not isinstance(data[table], dict):
            raise ConfigError(f"{where}: [{table}] must be a table")
    attachments = dict(data["attachments"])
    try:
        upload_expiry = parse_duration(attachments.pop("upload_expiry", DEFAULT_UPLOAD_EXPIRY))
    except ValueError as e:
        raise ConfigError(f"{where}: [attachments] upload_expiry: {e}") from None
    max_open = attachments.pop("max_open_uploads", DEFAULT_MAX_OPEN_UPLOADS)
    daily = attachments.pop("daily_bytes_per_identity", None)
    try:
        restrictions = Restrictions.from_mapping(attachments)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: [attachments] {e}") from None
    max_open_uploads, daily_bytes = _quotas(max_open, daily, restrictions.max_file_size, where)
    auth, ttl = _auth(data["auth"], where, base) if "auth" in data else (None, DEFAULT_MEDIA_LINK_TTL)
    identities = _identities(data.get("identities", {}), where)
    if auth is None and not identities:
        raise ConfigError(f"{where}: [identities] is empty; nobody could sign in")
    kind = backend_kind(data, where)
    storage = storage_config(data.get("storage"), where)
    database = database_url(data.get("database"), where, storage=storage is not None)
    return Config(restrictions, identities, source=where, auth=auth, media_link_ttl=ttl,
                  upload_expiry=upload_expiry, max_open_uploads=max_open_uploads,
                  daily_bytes_per_identity=daily_bytes, backend=kind, **backend_settings(kind, data, where, base),
                  storage=storage, broker_url=broker_url(data, where), database_url=database,
                  **_server(data.get("server", {}), where))


def _quotas(max_open: object, daily: object, max_file_size: int, where: str) -> tuple[int, int]:
    """[attachments] max_open_uploads and daily_bytes_per_identity (which must fit one largest file)."""
    if not isinstance(max_open, int) or isinstance(max_open, bool) or not 1 <= max_open <= 100_000:
        raise ConfigError(f"{where}: [attachments] max_open_uploads must be a whole number from 1 to 100000")
    if daily is None:
        return max_open, max(DEFAULT_DAILY_BYTES, max_file_size)
    try:
        daily_bytes = parse_size(daily)
    except ValueError as e:
        raise ConfigError(f"{where}: [attachments] daily_bytes_per_identity: {e}") from None
    if daily_bytes < max_file_size:
        raise ConfigError(f"{where}: [attachments] daily_bytes_per_identity ({daily_bytes:,} bytes) is less than "
                          f"max_file_size ({max_file_size:,} bytes): nobody could send the largest file allowed")
    return max_open, daily_bytes


def _identities(table: dict[str, Any], where: str) -> dict[str, str]:
    identities: dict[str, str] = {}
    for name, token in table.items():
        if not _IDENTITY.match(name):
            raise ConfigError(f"{where}: [identities] {name!r} is not a valid identity name (letters, digits, _ -)")
        if not isinstance(token, str) or len(token) < 8 or token != token.strip():
            raise ConfigError(f"{where}: [identities] {name} must be a token string of at least 8 characters")
        if token in identities.values():
            raise ConfigError(f"{where}: [identities] {name} reuses another identity's token")
        identities[name] = token
    return identities


def _auth(table: dict[str, Any], where: str, base: Path) -> tuple[AuthConfig, int]:
    unknown = sorted(set(table) - set(_AUTH_KEYS))
    if unknown:
        raise ConfigError(f"{where}: [auth] unknown key {unknown[0]!r} (known: {', '.join(_AUTH_KEYS)})")
    secret_file = table.get("secret_file")
    if not isinstance(secret_file, str) or not secret_file:
        raise ConfigError(f"{where}: [auth] secret_file must name the file holding the token signing key")
    path = base / secret_file            # relative to the config file; an absolute path stays absolute
    try:
        secret = path.read_bytes()       # used exactly as stored: the portal signs with the same bytes
    except OSError as e:
        raise ConfigError(f"{where}: [auth] secret_file {str(path)!r}: cannot read: {e.strerror}") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"{where}: [auth] secret_file {str(path)!r} holds {len(secret)} bytes; the key needs "
                          f"at least {MIN_SECRET_BYTES} (make one with: openssl rand -hex 32 > FILE)")
    token_url = table.get("token_url", "")
    if not isinstance(token_url, str) or (token_url and not re.match(r"^(https?://[^/\s]+)?/[^\s]*$", token_url)):
        raise ConfigError(f"{where}: [auth] token_url must be a URL such as 'https://portal.example.com/attache/token'"
                          " or a path on the page's origin such as '/attache/token'")
    try:
        ttl = _whole_seconds(parse_duration(table.get("media_link_ttl", DEFAULT_MEDIA_LINK_TTL)))
    except ValueError as e:
        raise ConfigError(f"{where}: [auth] media_link_ttl: {e}") from None
    if not 10 <= ttl <= 7 * 86400:
        raise ConfigError(f"{where}: [auth] media_link_ttl must be between 10 s and 7 days")
    claims = {}
    for key in ("audience", "issuer"):
        value = table.get(key, "")
        if not isinstance(value, str) or len(value) > 255 or value != value.strip():
            raise ConfigError(f"{where}: [auth] {key} must be the text your portal puts in the token's "
                              f"'{key[:3]}' claim (or absent)")
        claims[key] = value
    return AuthConfig(secret, str(path), token_url, **claims), ttl


def _origins(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    origins = table.get(key, [])
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise ConfigError(f"{where}: [server] {key} must be a list of strings")
    for origin in origins:
        if not (origin == "*" and key == "cors_allow_origins") and not _ORIGIN.match(origin):
            raise ConfigError(f"{where}: [server] {key}: {origin!r} is not an origin like 'https://portal.example.com'")
    return tuple(origins)


def _bounded_int(table: dict[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    value = table.get(key, default)
    try:
        value = _whole_seconds(parse_duration(value)) if key.startswith("timeout_") else value
    except ValueError as e:
        raise ConfigError(f"{where}: [server] {key}: {e}") from None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{where}: [server] {key} must be a whole number from {low} to {high}")
    return value


def _server(table: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(table) - set(_SERVER_KEYS))
    if unknown:
        raise ConfigError(f"{where}: [server] unknown key {unknown[0]!r} (known: {', '.join(_SERVER_KEYS)})")
    cors = _origins(table, "cors_allow_origins", where)
    credentials = table.get("cors_allow_credentials", False)
    if not isinstance(credentials, bool):
        raise ConfigError(f"{where}: [server] cors_allow_credentials must be true or false")
    if credentials and "*" in cors:
        raise ConfigError(f"{where}: [server] cors_allow_credentials = true cannot be combined with \"*\" in "
                          "cors_allow_origins: any site could then call the API with the user's cookies; "
                          "list the origins instead")
    return {
        "cors_allow_origins": cors,
        "cors_allow_credentials": credentials,
        "embed_origins": _origins(table, "embed_origins", where),
        "limit_concurrency": _bounded_int(table, "limit_concurrency", 1000, 2, 100_000, where),
        "timeout_keep_alive": _bounded_int(table, "timeout_keep_alive", 5, 1, 300, where),
        "timeout_request_headers": _bounded_int(table, "timeout_request_headers", 5, 1, 300, where),
        "max_streams_per_identity": _bounded_int(table, "max_streams_per_identity", 5, 1, 1000, where),
        "public_origin": _public_origin(table, where),
    }


def _public_origin(table: dict[str, Any], where: str) -> str:
    value = table.get("public_origin", "")
    if not isinstance(value, str) or (value and not _ORIGIN.match(value)):
        raise ConfigError(f"{where}: [server] public_origin must be an origin such as 'https://chat.example.com' "
                          "(scheme and host, no path)")
    return value.lower()
