"""`[backend] kind`: who holds the conversations, and that kind's own settings table.

"reference": this server's own store (the default). "twilio": one Twilio
Conversations service, bridged by server/bridges/twilio/ (its [twilio] table).
"matrix": one room on a Matrix homeserver that the page talks to directly;
this server only serves the page (server/config/matrix_config.py). Its settings
(`homeserver`, `room`, `[backend.identities]`) sit in the [backend] table
itself, or in a [matrix] table of their own. A new kind adds its name to
BACKEND_KINDS, its table to KIND_TABLES and its loader to `backend_settings`; its settings become a field of `Config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from server.config.config_error import ConfigError
from server.config.matrix_config import KEYS as MATRIX_KEYS
from server.config.matrix_config import MatrixSettings
from server.config.twilio_config import TwilioSettings

BACKEND_KINDS = ("reference", "twilio", "matrix")
KIND_TABLES = ("twilio", "matrix")     # kinds with a settings table named like them
INLINE_KEYS = {"matrix": MATRIX_KEYS}   # kinds whose settings may sit in [backend] itself
_TABLE_KEYS = {"twilio": "account_sid, api_key_sid, api_key_secret_file, auth_token_file, chat_service_sid, "
                         "public_url",
               "matrix": "homeserver, room, identities; or those keys in [backend]"}


def backend_kind(data: Mapping[str, Any], where: str = "config") -> str:
    """The `[backend]` table's `kind`; a kind's own table must be there for that kind and only for it."""
    backend = data.get("backend", {})
    if not isinstance(backend, Mapping):
        raise ConfigError(f"{where}: [backend] must be a table")
    kind = backend.get("kind", "reference")
    if kind not in BACKEND_KINDS:
        raise ConfigError(f"{where}: [backend] kind must be one of {', '.join(map(repr, BACKEND_KINDS))}, "
                          f"not {kind!r}")
    known = ("kind", *INLINE_KEYS.get(kind, ()))
    unknown = sorted(set(backend) - set(known))
    if unknown:
        raise ConfigError(f"{where}: [backend] unknown key {unknown[0]!r} (known: {', '.join(known)})")
    inline = set(backend) - {"kind"}
    if inline and kind in data:
        raise ConfigError(f"{where}: the {kind} settings are in [backend] and in [{kind}]: keep one of them")
    if kind in KIND_TABLES and kind not in data and not inline:
        raise ConfigError(f"{where}: [backend] kind = \"{kind}\" needs a [{kind}] table ({_TABLE_KEYS[kind]})")
    for table in KIND_TABLES:
        if table != kind and table in data:
            raise ConfigError(f"{where}: a [{table}] table is only used with [backend] kind = \"{table}\"")
    return kind


def backend_settings(kind: str, data: Mapping[str, Any], where: str, base: Path) -> dict[str, Any]:
    """The chosen kind's settings as `Config` fields ({} for the reference server)."""
    if kind == "twilio":
        return {"twilio": TwilioSettings.from_mapping(data["twilio"], base, f"{where}: [twilio]")}
    if kind == "matrix":
        table, name = (data["matrix"], "matrix") if "matrix" in data else (_inline(data["backend"]), "backend")
        return {"matrix": MatrixSettings.from_mapping(table, f"{where}: [{name}]", production="auth" in data)}
    return {}


def _inline(backend: Mapping[str, Any]) -> dict[str, Any]:
    """A kind's settings written in [backend] itself (everything but `kind`)."""
    return {key: value for key, value in backend.items() if key != "kind"}
