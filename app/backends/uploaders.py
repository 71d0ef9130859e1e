"""Uploaders: which machine carries a file, configured per page.

``tus`` speaks tus 1.0.0 to any tus server (the reference server's
``/api/uploads``, tusd, ``@tus/server``...); ``single`` sends the whole file in
one request built by the conversation API (Matrix media). The page config's
``backend.uploader`` picks one; without it the conversation API's
``uploader_defaults()`` decide::

    "uploader": "tus"
    "uploader": {"kind": "tus", "endpoint": "https://files.example/tus", "headers": {"Authorization": "..."}}
    "uploader": {"kind": "single"}

The API's own headers (its bearer token) go only to its own endpoint: a tus
endpoint configured elsewhere gets the configured headers alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.backends.api import ConversationApi, SingleRequestUploads
from app.core.backoff import POLICY, RetryPolicy
from app.core.models import FileInfo
from app.core.pacing import Pacer
from app.core.tus import TusUpload
from app.core.upload import SingleUpload

__all__ = ["KINDS", "SingleUploader", "TusUploader", "create_uploader"]

KINDS = ("tus", "single")


class TusUploader:
    """Begins :class:`~app.core.tus.TusUpload` machines against one creation URL.

    One :class:`~app.core.pacing.Pacer` is shared by its uploads, so each new
    upload starts at the speed the last one measured.
    """

    kind = "tus"

    def __init__(self, endpoint: str, headers: Mapping[str, str] | None = None, *, pacer: Pacer | None = None,
                 policy: RetryPolicy = POLICY, max_restarts: int = 1) -> None:
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError("the tus uploader needs an endpoint (the upload-creation URL)")
        headers = dict(headers or {})
        if not all(isinstance(k, str) and isinstance(v, str) and "\n" not in k + v for k, v in headers.items()):
            raise ValueError("uploader headers must map names to single-line strings")
        self.endpoint, self.headers = endpoint, headers
        self.pacer, self.policy, self.max_restarts = pacer or Pacer(), policy, max_restarts

    def begin(self, info: FileInfo, record: dict | None = None) -> TusUpload:
        return TusUpload(self.endpoint, info, headers=self.headers, pacer=self.pacer, policy=self.policy,
                         max_restarts=self.max_restarts, record=record)

    def __repr__(self) -> str:  # never show the headers: they hold tokens
        return f"TusUploader(endpoint={self.endpoint!r})"


class SingleUploader:
    """Begins :class:`~app.core.upload.SingleUpload` machines with the API's request and parse."""

    kind = "single"

    def __init__(self, api: SingleRequestUploads, *, policy: RetryPolicy = POLICY) -> None:
        self.api, self.policy = api, policy

    def begin(self, info: FileInfo, record: dict | None = None) -> SingleUpload:
        """``record`` is ignored: a single request has nothing to resume."""
        return SingleUpload(info, self.api.upload_request(info), lambda resp: self.api.parse_upload(resp, info),
                            policy=self.policy)


def create_uploader(setting: Any, api: ConversationApi, *, pacer: Pacer | None = None,
                    policy: RetryPolicy = POLICY) -> TusUploader | SingleUploader:
    """The uploader the config's ``backend.uploader`` names (None: the API's defaults).

    Raises ValueError naming what is wrong: an unknown kind, a ``single``
    uploader for an API that has no single-request upload, a bad endpoint.
    """
    defaults = dict(api.uploader_defaults())
    if setting is None:
        setting = {}
    elif isinstance(setting, str):
        setting = {"kind": setting}
    elif not isinstance(setting, Mapping):
        raise ValueError('config backend.uploader must be "tus", "single" or a table with a "kind"')
    kind = setting.get("kind", defaults.get("kind"))
    if kind not in KINDS:
        raise ValueError(f"unknown uploader {kind!r}; known uploaders: {', '.join(KINDS)}")
    if kind == "single":
        if not isinstance(api, SingleRequestUploads):
            raise ValueError(f"the {api.name} adapter cannot upload in a single request; use the tus uploader")
        return SingleUploader(api, policy=policy)
    endpoint = setting.get("endpoint") or defaults.get("endpoint")
    headers = setting.get("headers", {})
    if not isinstance(headers, Mapping):
        raise ValueError("config backend.uploader.headers must be a table of header -> value")
    if endpoint == defaults.get("endpoint"):
        headers = {**defaults.get("headers", {}), **headers}
    if not isinstance(endpoint, str) or not endpoint:
        raise ValueError(f"the tus uploader needs backend.uploader.endpoint (the {api.name} adapter has none)")
    return TusUploader(endpoint, headers, pacer=pacer, policy=policy)
