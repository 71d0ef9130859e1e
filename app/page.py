"""The canvas before Python runs: the HTML of the whole canvas, for the first paint.

Pure (jinja2 only), used in three places: the reference server renders it into
the page for each request, with the recent history when it can know who asks
(server/page/first_paint.py); the build renders it "loading" into the static page
and into <attache-canvas>'s shadow root (tools/site.py). The history inside is
`app.render.messages_html`, the very HTML Python renders later, so Python can
take the server's nodes over instead of drawing them again.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from app.core.restrictions import Restrictions

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                   trim_blocks=True, lstrip_blocks=True)
# Around the canvas in build/site/index.html: the server draws it again between them.
CANVAS_START, CANVAS_END = "<!--attache:canvas-->", "<!--/attache:canvas-->"
DEFAULT_CONFIG_URL = "./attache-config.json"
DEFAULT_TITLE = "Conversation"


@dataclass(frozen=True)
class CanvasView:
    """What the first HTML shows. `history_html` None: the history is not known yet (loading);
    `empty`: it is known and has no message (the HTML is then only the sentinel above the blocks)."""

    config_url: str = DEFAULT_CONFIG_URL
    title: str = DEFAULT_TITLE
    history_html: str | None = None
    hint: str = ""
    accept: str = ""
    multiple: bool = False
    identity: str = ""
    conversation: str = ""
    empty: bool = False

    @property
    def loading(self) -> bool:
        return self.history_html is None

    @property
    def says_empty(self) -> bool:
        return not self.loading and (self.empty or not self.history_html)

    @classmethod
    def with_rules(cls, restrictions: Restrictions, **fields: Any) -> CanvasView:
        """The composer's hint and file picker filter, as ComposerView.apply sets them."""
        return cls(hint=restrictions.describe_limit(), accept=restrictions.accept_attribute(),
                   multiple=restrictions.max_files_per_message > 1, **fields)


def canvas_html(view: CanvasView) -> str:
    """The canvas; `view.history_html` is trusted: it comes from app.render (escaped there)."""
    return _env.get_template("canvas.html").render(c=view, history=Markup(view.history_html or ""))


def display_names(identities: Mapping[str, Any]) -> dict[str, str]:
    """identity -> the name people see ("customer" -> "Customer" unless the config names it)."""
    return {name: (entry.get("name") if isinstance(entry, Mapping) else None) or name.title()
            for name, entry in identities.items()}


def title_for(names: Mapping[str, str], identity: str) -> str:
    """The header: who the identity talks with."""
    peer = ", ".join(label for name, label in names.items() if name != identity) or "everyone"
    return f"Conversation with {peer}"
