"""A portal on another origin that embeds <attache-canvas>: its own static server with its CSP on every
page (the one docs/embedding.md gives), one page holding a canvas per conversation. test_embed and
test_many_conversations share it."""
from __future__ import annotations

from tests.e2e.test_deployment import StaticSite

# Every EventSource the page opens (the canvases' live feed), to see which are open; and what the
# portal's page hears: the element's events and CSP violations.
PORTAL_JS = """
window.heard = [];
for (const type of ["attache-message-sent", "attache-message-received", "attache-error"]) {
  document.addEventListener(type, (event) => window.heard.push({ type, target: event.target.localName, detail: event.detail }));
}
window.sources = [];
window.EventSource = class extends window.EventSource {
  constructor(...args) { super(...args); window.sources.push(this); }
};
document.addEventListener("securitypolicyviolation", (event) =>
  window.heard.push({ type: "csp", detail: `${event.violatedDirective} ${event.blockedURI}` }));
"""
OPEN_FEEDS = "window.sources.filter(s => s.readyState !== EventSource.CLOSED).length"


def portal_csp(api: str) -> str:
    """docs/embedding.md: what the portal's own CSP must allow."""
    return (f"default-src 'self'; script-src 'self' {api} 'unsafe-eval' 'wasm-unsafe-eval'; "
            f"style-src 'self' {api}; connect-src 'self' {api}; img-src 'self' {api} data: blob:; "
            f"media-src 'self' {api} blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'")


class PortalSite(StaticSite):
    """The portal's own web server (another origin: another port), with its CSP on every page."""

    def page(self, api: str, conversations: list[str], css: str = "") -> None:
        """index.html: the portal's header, then one canvas per conversation (a region "Chat <id>")."""
        (self.root / "portal.css").write_text(css)
        (self.root / "portal.js").write_text(PORTAL_JS)
        canvases = "\n".join(
            f'  <section aria-label="Chat {c}"><attache-canvas config="{api}/attache-config.json" '
            f'conversation="{c}" identity="agent"></attache-canvas></section>' for c in conversations)
        (self.root / "index.html").write_text(f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Acme support portal</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="portal.css">
  <script src="portal.js"></script>
  <script type="module" src="{api}/attache.js"></script>
</head>
<body>
  <header id="portal-header"><h1>Acme support portal</h1><button type="button">Portal menu</button></header>
{canvases}
</body>
</html>
""")
