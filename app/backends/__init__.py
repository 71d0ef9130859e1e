"""Conversations backend adapters (sans-IO); see ``app/backends/base.py``.

``create_backend(config, identity)`` builds the adapter named by the page
config's ``backend.adapter`` (``/attache-config.json``).
"""

from typing import Any, Callable, Mapping

from app.backends.base import Backend, BackendError, FileSlice, Request, Response, UploadState
from app.backends.reference import ReferenceBackend

__all__ = [
    "ADAPTERS",
    "Backend",
    "BackendError",
    "FileSlice",
    "Request",
    "Response",
    "UploadState",
    "create_backend",
]

#: adapter name -> factory(backend_config, identity). Add Matrix, Twilio... here.
ADAPTERS: dict[str, Callable[[Mapping[str, Any], str], Backend]] = {
    "reference": ReferenceBackend.from_config,
}


def create_backend(config: dict, identity: str) -> Backend:
    """The adapter for ``config["backend"]["adapter"]``, acting as ``identity``.

    Raises ValueError with a message naming the problem: no ``backend``
    table, an unknown adapter (the known ones are listed), or whatever the
    adapter finds wrong in its own settings (unknown identity, bad base_url...).
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
