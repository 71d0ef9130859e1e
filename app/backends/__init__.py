"""Backend adapters (sans-IO): a conversation API and an uploader, picked by configuration.

``create_backend(config, identity)`` reads the page config
(``/attache-config.json``): ``backend.adapter`` names the conversation API
(:data:`ADAPTERS`), ``backend.uploader`` the uploader (see
``app/backends/uploaders.py``; without it the API's own default). The
interfaces are in ``app/backends/api.py``; the values they exchange with the
shell in ``app/core/http.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.backends.api import (
    ConversationApi,
    HistoryPage,
    PollEvents,
    SetEvents,
    SingleRequestUploads,
    SseEvents,
    Uploader,
)
from app.backends.matrix import MatrixConversation
from app.backends.reference import ReferenceApi
from app.backends.uploaders import SingleUploader, TusUploader, create_uploader
from app.core.errors import BackendError
from app.core.http import TIMED_OUT, FileSlice, Request, Response
from app.core.pacing import Pacer

__all__ = [
    "ADAPTERS", "Backend", "BackendError", "ConversationApi", "FileSlice", "HistoryPage", "MatrixConversation",
    "PollEvents", "ReferenceApi", "SetEvents", "Request", "Response", "SingleRequestUploads", "SingleUploader",
    "SseEvents", "TIMED_OUT", "TusUploader", "Uploader", "create_api", "create_backend", "create_uploader",
]

#: adapter name -> factory(backend_config, identity).
ADAPTERS: dict[str, Callable[[Mapping[str, Any], str], ConversationApi]] = {
    "reference": ReferenceApi.from_config,
    "matrix": MatrixConversation.from_config,
}


@dataclass(frozen=True)
class Backend:
    """What the page talks to: messages through ``api``, files through ``uploader``."""

    api: ConversationApi
    uploader: Uploader


def create_api(config: Any, identity: str) -> ConversationApi:
    """The conversation API for ``config["backend"]["adapter"]``, acting as ``identity``.

    Raises ValueError naming the problem: no ``backend`` table, an unknown
    adapter (the known ones are listed), or what the adapter finds wrong in
    its own settings (unknown identity, bad base_url...).
    """
    known = ", ".join(sorted(ADAPTERS))
    backend = config.get("backend") if isinstance(config, Mapping) else None
    if not isinstance(backend, Mapping):
        raise ValueError(f'config has no "backend" table (known adapters: {known})')
    adapter = backend.get("adapter")
    factory = ADAPTERS.get(adapter) if isinstance(adapter, str) else None
    if factory is None:
        raise ValueError(f"unknown backend adapter {adapter!r}; known adapters: {known}")
    return factory(backend, identity)


def create_backend(config: Any, identity: str, *, pacer: Pacer | None = None) -> Backend:
    """The conversation API and the uploader the config names; ValueError naming what is wrong."""
    api = create_api(config, identity)
    return Backend(api, create_uploader(config["backend"].get("uploader"), api, pacer=pacer))
