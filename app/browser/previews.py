"""Object URLs for the thumbnails of local files: created and revoked here only.

A staged file and the same file in its pending message share one URL; it is
revoked when the file leaves the page's hands (unstaged, removed from a failed
message, or delivered: the history then shows the server's copy). Only files
that get a thumbnail get a URL, and that is decided on the sniffed type
(`render.wants_preview`), the same decision that draws the thumbnail.
"""
from __future__ import annotations

from collections.abc import Iterable

from js import URL

from app import render
from app.core.composer import Staged


class Previews:
    def __init__(self) -> None:
        # id(staged) -> (staged, url). The value keeps the Staged alive, so its id
        # cannot be reused by another file while its URL is here.
        self._urls: dict[int, tuple[Staged, str]] = {}

    def url(self, staged: Staged) -> str:
        """The thumbnail URL of a local file; "" for files that get no thumbnail."""
        found = self._urls.get(id(staged))
        if found is not None:
            return found[1]
        if not render.wants_preview(staged.info):
            return ""
        url = str(URL.createObjectURL(staged.handle))
        self._urls[id(staged)] = (staged, url)
        return url

    def urls(self, files: Iterable[Staged]) -> dict[int, str]:
        """index -> URL for the files that have a thumbnail, as the templates take them."""
        return {i: url for i, staged in enumerate(files) if (url := self.url(staged))}

    def release(self, files: Iterable[Staged]) -> None:
        """These files are no longer shown from the page's copy: revoke their URLs."""
        for staged in files:
            found = self._urls.pop(id(staged), None)
            if found is not None:
                URL.revokeObjectURL(found[1])

    def __len__(self) -> int:
        return len(self._urls)
