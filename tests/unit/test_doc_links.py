"""Every relative link in README.md and docs/ leads somewhere: the README is a front door to docs/,
and a page that moves or a heading that is renamed must not leave a dead link behind."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
MD_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"\b(?:href|src|srcset)=\"([^\"]+)\"")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def prose(text: str) -> str:
    """The text without code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor a page's headings make, with GitHub's -1, -2 for repeated ones."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    text = prose(page.read_text(encoding="utf-8"))
    return MD_LINK.findall(text) + HTML_LINK.findall(text)


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("//")


def broken(page: Path) -> list[str]:
    """The relative links of a page whose file or heading does not exist."""
    problems = []
    for target in filter(is_relative, links(page)):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            problems.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: no heading makes #{anchor}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken(page) == []


def test_the_readme_links_every_docs_page():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md") if is_relative(t)}
    unlinked = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert unlinked == []


def test_a_dead_file_or_heading_is_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Real heading\n\n```sh\n# not a heading\n```\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("[a](other.md#real-heading) [b](missing.md) [c](other.md#not-a-heading) "
                    "`[d](in-code.md)` <img src=\"gone.png\"> [e](https://example.org/x)\n", encoding="utf-8")
    assert broken(page) == ["missing.md: no such file", "other.md#not-a-heading: no heading makes #not-a-heading",
                            "gone.png: no such file"]


@pytest.mark.parametrize("heading, anchor", [
    ("Two commands", "two-commands"),
    ("How the bridge works (`server/twilio/`)", "how-the-bridge-works-servertwilio"),
    ("Reference server REST API (server/, Starlette + uvicorn, SQLite, media on disk)",
     "reference-server-rest-api-server-starlette--uvicorn-sqlite-media-on-disk"),
    ("Start-up: the canvas is there before Python", "start-up-the-canvas-is-there-before-python"),
])
def test_slug_matches_github(heading, anchor):
    assert slug(heading) == anchor
