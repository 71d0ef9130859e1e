"""Attache in the browser: read the page config, pick the adapter, mount the canvas.

Each canvas is an element drawn before Python ran: the page's own (#attache,
drawn by the server) or one inside an <attache-canvas> element's shadow root.
static/early.mjs registers each in `globalThis.__attache` and Python mounts them
all, and any registered later. The config URL comes from the canvas
(`data-config`), so a portal points it at its own backend (on another origin
too: a relative `base_url` then means the config's origin); the identity and
conversation come from the element's attributes, else from `?as=` (one of the
identities the config offers: the reference server offers both "agent" and
"customer" for development) and `?conversation=`.
"""
import asyncio

from js import URL, URLSearchParams, document, globalThis, location
from pyodide.ffi import create_proxy

from app.backends import create_backend
from app.browser import diagnostics, portal
from app.browser.canvas import Canvas
from app.browser.dom import Root, maybe
from app.browser.notices import Notices
from app.browser.storage import UnsentStore
from app.browser.transport import get_json
from app.core.errors import BackendError
from app.core.models import Problem
from app.page import display_names, title_for

DEFAULT_IDENTITY = "agent"
DEFAULT_CONFIG_URL = "./attache-config.json"


def _data(element, name: str) -> str | None:
    """A data-* attribute of the canvas, or None (a missing JS property raises AttributeError)."""
    return maybe(getattr(element.dataset, name, None)) or None


def base_url_for(settings: dict, config_url: str) -> str:
    """The backend's base URL; relative to the config's origin when that is not the page's."""
    base = settings.get("base_url", "")
    origin = str(URL.new(config_url).origin)
    if not isinstance(base, str) or base.startswith(("http://", "https://")) or origin == str(location.origin):
        return base
    return str(URL.new(base or "/", config_url).href).rstrip("/")


async def main(root: Root) -> None:
    element = root.element
    try:
        config_url = str(URL.new(_data(element, "config") or DEFAULT_CONFIG_URL, location.href).href)
        config = await get_json(config_url)
        params = URLSearchParams.new(location.search)
        identity = _data(element, "identity") or maybe(params.get("as")) or DEFAULT_IDENTITY
        conversation = _data(element, "conversation") or maybe(params.get("conversation"))
        if isinstance(config, dict) and isinstance(config.get("backend"), dict):
            if conversation:
                config["backend"]["conversation"] = conversation
            config["backend"]["base_url"] = base_url_for(config["backend"], config_url)
        backend = create_backend(config, identity)  # Backend(api, uploader); ValueError naming what is wrong
    except (ValueError, BackendError) as error:
        problem = error.problem if isinstance(error, BackendError) else Problem(
            "config", f"Attache cannot start: {error}", "Reload the page, or ask your administrator.")
        notices = Notices(root.by_id("notices"))
        notices.on_show = lambda shown: root.emit(portal.ERROR, portal.problem_detail(shown))
        notices.show(problem)
        root.give_up()
        return
    settings = config["backend"]
    names = display_names(settings["identities"])
    root.by_id("peer").textContent = title_for(names, identity)
    element.dataset.identity = identity
    conversation = settings.get("conversation", "default")
    scope = f"{settings.get('base_url') or location.origin}|{conversation}|{identity}"
    canvas = Canvas(root, backend, identity, names, UnsentStore(scope))
    portal.connect(root, canvas, identity, conversation)
    diagnostics.install(canvas.diagnostics)
    await canvas.start()


def mount(element) -> None:
    asyncio.ensure_future(main(Root(element)))


registry = maybe(getattr(globalThis, "__attache", None))
if registry is None:  # static/early.mjs did not run: the page's own canvas, as it is
    page = maybe(document.getElementById("attache"))
    if page is not None:
        mount(page)
else:
    registry.mount = create_proxy(mount)
    for waiting in list(registry.pending.splice(0)):
        mount(waiting)
