"""Attache in the browser: read the page config, pick the adapter, mount the canvas.

The config URL comes from the page (`data-config` on #attache), so a portal
embedding the canvas points it at its own backend and identity; `?as=` picks
one of the identities the config offers (the reference server offers both
"agent" and "customer" for development) and `?conversation=` one conversation.
"""
import asyncio

from js import URLSearchParams, document, location

from app.backends import create_backend
from app.browser import diagnostics
from app.browser.canvas import Canvas
from app.browser.dom import Root, maybe
from app.browser.notices import Notices
from app.browser.storage import UnsentStore
from app.browser.transport import get_json
from app.core.errors import BackendError
from app.core.models import Problem

DEFAULT_IDENTITY = "agent"


def display_names(identities: dict) -> dict[str, str]:
    """identity -> the name people see ("customer" -> "Customer" unless the config names it)."""
    return {name: (entry.get("name") if isinstance(entry, dict) else None) or name.title()
            for name, entry in identities.items()}


async def main() -> None:
    root = Root(document.getElementById("attache"))  # the one lookup outside the canvas
    try:
        config = await get_json(root.element.dataset.config or "./attache-config.json")
        params = URLSearchParams.new(location.search)
        identity = maybe(params.get("as")) or DEFAULT_IDENTITY
        conversation = maybe(params.get("conversation"))
        if conversation and isinstance(config, dict) and isinstance(config.get("backend"), dict):
            config["backend"]["conversation"] = conversation
        backend = create_backend(config, identity)  # Backend(api, uploader); ValueError naming what is wrong
    except (ValueError, BackendError) as error:
        problem = error.problem if isinstance(error, BackendError) else Problem(
            "config", f"Attache cannot start: {error}", "Reload the page, or ask your administrator.")
        Notices(root.by_id("notices")).show(problem)
        return
    settings = config["backend"]
    names = display_names(settings["identities"])
    peer = ", ".join(label for name, label in names.items() if name != identity) or "everyone"
    root.by_id("peer").textContent = f"Conversation with {peer}"
    root.element.dataset.identity = identity
    where = settings.get("base_url") or settings.get("homeserver") or location.origin   # Matrix: homeserver, room
    scope = f"{where}|{settings.get('conversation') or settings.get('room') or 'default'}|{identity}"
    canvas = Canvas(root, backend, identity, names, UnsentStore(scope))
    diagnostics.install(canvas.diagnostics)
    await canvas.start()


asyncio.ensure_future(main())
