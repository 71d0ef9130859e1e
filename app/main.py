"""Attache in the browser: read the page config, pick the adapter, mount the canvas.

The config URL comes from the page (`data-config` on #attache), so a portal
embedding the canvas points it at its own backend and identity; `?as=` picks
one of the identities the config offers (the reference server offers both
"agent" and "customer" for development) and `?conversation=` one conversation.
"""
import asyncio

from js import URLSearchParams, document, location

from app.backends import create_backend
from app.backends.base import BackendError
from app.browser import diagnostics
from app.browser.canvas import Canvas
from app.browser.dom import maybe
from app.browser.notices import Notices
from app.browser.storage import UnsentStore
from app.browser.transport import get_json
from app.core.models import Problem

DEFAULT_IDENTITY = "agent"


async def main() -> None:
    root = document.getElementById("attache")
    try:
        config = await get_json(root.dataset.config or "./attache-config.json")
        params = URLSearchParams.new(location.search)
        identity = maybe(params.get("as")) or DEFAULT_IDENTITY
        conversation = maybe(params.get("conversation"))
        if conversation:
            config.setdefault("backend", {})["conversation"] = conversation
        identities = config.get("backend", {}).get("identities", {})
        if identity not in identities:
            raise ValueError(f"Unknown identity {identity!r}: this page offers {', '.join(sorted(identities)) or 'none'}")
        backend = create_backend(config, identity)
    except (ValueError, BackendError) as error:
        problem = error.problem if isinstance(error, BackendError) else Problem("config", str(error), "Reload the page, or ask your administrator.")
        Notices(document.getElementById("notices")).show(problem)
        return
    names = {name: entry.get("name", name.title()) for name, entry in identities.items()}
    peer = ", ".join(label for name, label in names.items() if name != identity) or "everyone"
    document.getElementById("peer").textContent = f"Conversation with {peer}"
    root.dataset.identity = identity
    diagnostics.install()
    backend_config = config["backend"]
    scope = f"{backend_config.get('base_url') or location.origin}|{backend_config.get('conversation', 'default')}|{identity}"
    await Canvas(backend, identity, names, UnsentStore(scope)).start()


asyncio.ensure_future(main())
