"""What every config table's reader shares: the error it raises and the shape of a service's table.

Apart from server.config.config_file so that the readers of single tables ([database], [broker],
[storage], [backend]) and the config that gathers them import in one direction.
"""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A configuration problem, phrased for the person editing the file."""


def service_table(table: object, name: str, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    """A service's table ([broker], [database]): a table holding only the keys it knows."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ConfigError(f"{where}: [{name}] unknown key {unknown[0]!r} (known: {', '.join(keys)})")
    return table
