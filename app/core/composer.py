"""The message being written: its text and the files staged to go with it.

Sans-IO: the shell forwards what the user does (typed, picked, removed,
pressed send) and renders `text`, `staged`, `state` and `can_send`. A file
is staged only when the restrictions accept it, so a refused file never
reaches the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.models import FileInfo, Problem
from app.core.restrictions import Restrictions, check, check_text


@dataclass(frozen=True)
class Staged:
    """A file waiting in the composer; `handle` is the browser's File, opaque to core."""

    info: FileInfo
    handle: object


@dataclass(frozen=True)
class Draft:
    """What the user pressed send on: handed to `Outbox.add`."""

    text: str
    files: tuple[Staged, ...]


class Composer:
    """State: "empty" (no file staged) or "staged" (at least one file staged).

    `restrictions` may be replaced when the server's rules arrive; they apply
    to the next file staged.
    """

    def __init__(self, restrictions: Restrictions) -> None:
        self.restrictions = restrictions
        self.text = ""
        self.staged: tuple[Staged, ...] = ()

    @property
    def state(self) -> str:
        return "staged" if self.staged else "empty"

    @property
    def can_send(self) -> bool:
        return bool(self.text.strip()) or bool(self.staged)

    def set_text(self, text: str) -> None:
        self.text = text

    def stage(self, info: FileInfo, handle: object) -> list[Problem]:
        """Stage a file; [] when staged, else the problems (and nothing changes).

        With one file per message a new file replaces the staged one, which is
        what people expect from picking again. With more, a full composer refuses.
        """
        problems = check(info, self.restrictions)
        if problems:
            return problems
        limit = self.restrictions.max_files_per_message
        item = Staged(info, handle)
        if limit == 1:
            self.staged = (item,)
        elif len(self.staged) >= limit:
            name = info.name.strip() or "This file"
            return [Problem("too_many_files", f"{name}: a message can carry at most {limit} files",
                            "Send this message first, or remove a file.")]
        else:
            self.staged = self.staged + (item,)
        return []

    def remove(self, index: int = 0) -> None:
        """Unstage the file at `index` (IndexError when there is none)."""
        if not 0 <= index < len(self.staged):
            raise IndexError(f"no staged file at index {index} ({len(self.staged)} staged)")
        self.staged = self.staged[:index] + self.staged[index + 1:]

    def refusals(self) -> list[Problem]:
        """What stops the text from being sent here (a channel's text limit), before anything is sent."""
        return check_text(self.text.strip(), self.restrictions)

    def take(self) -> Draft | None:
        """The draft to send (text without surrounding blank space), and a cleared
        composer; None when there is nothing to send or the text breaks a rule (`refusals`)."""
        if not self.can_send or self.refusals():
            return None
        draft = Draft(text=self.text.strip(), files=self.staged)
        self.text, self.staged = "", ()
        return draft
