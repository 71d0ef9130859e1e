"""`[storage]`: where uploaded bytes, media and thumbnails live (absent: the --data folder).

    [storage]
    url = "s3://attache-files/prod"                # bucket and key prefix
    endpoint_url = "https://s3.example.internal"   # absent: AWS itself; any S3-compatible store
    region = "eu-west-1"                           # absent: the AWS default chain's, else us-east-1

Credentials never sit here: boto3 reads the standard AWS variables and files
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/...), so a
config file can be shared without leaking a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from server.config.config_error import ConfigError

KEYS = ("url", "endpoint_url", "region")
# S3's bucket naming rules (the common subset every S3-compatible store accepts).
_BUCKET = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9!_.*'()-]+$")
_ENDPOINT = re.compile(r"^https?://[^/\s@]+(/[^\s]*)?$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+){1,4}$")


@dataclass(frozen=True)
class StorageConfig:
    bucket: str
    prefix: str                  # "" or "a/b" (keys are "<prefix>/media/<sha256>")
    endpoint_url: str | None = None
    region: str | None = None

    @property
    def url(self) -> str:
        """The bucket as configured (never holds a secret: credentials are not in the config)."""
        return f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


def storage_config(table: Any, where: str) -> StorageConfig | None:
    """The validated [storage] table, or None without one (the --data folder)."""
    if table is None:
        return None
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: [storage] unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    url = table.get("url")
    if not isinstance(url, str) or not url.startswith("s3://"):
        raise ConfigError(f"{where}: [storage] url must name an S3 bucket and an optional key prefix, "
                          "such as 's3://attache-files/prod' (remove [storage] to keep files in the --data folder)")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError(f"{where}: [storage] url: {bucket!r} is not a valid bucket name (3-63 lowercase letters, "
                          "digits, dots and hyphens)")
    prefix = prefix.strip("/")
    if prefix and not all(_PREFIX_PART.match(p) and p not in (".", "..") for p in prefix.split("/")):
        raise ConfigError(f"{where}: [storage] url: the key prefix {prefix!r} may hold letters, digits and "
                          "!_.*'()- between single slashes")
    endpoint = table.get("endpoint_url")
    if endpoint is not None and (not isinstance(endpoint, str) or not _ENDPOINT.match(endpoint)):
        raise ConfigError(f"{where}: [storage] endpoint_url must be a URL such as 'https://s3.example.internal' "
                          "without credentials in it (they come from the AWS variables or files); "
                          "leave it out for AWS itself")
    region = table.get("region")
    if region is not None and (not isinstance(region, str) or not _REGION.match(region)):
        raise ConfigError(f"{where}: [storage] region must be a region name such as 'eu-west-1'")
    return StorageConfig(bucket, prefix, endpoint, region)
