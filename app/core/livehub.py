"""One live stream for many canvases: who follows what, from where, and what to do when it fails.

Why: a browser keeps six HTTP/1.1 connections per host across all its tabs and
the server caps streams per identity, so twenty canvases (or tabs) of one
agent cannot hold a stream each. The page keeps one stream per backend and
identity for the set of conversations its canvases show (and, through the tab
leader, the other tabs' too). The server numbers messages across all
conversations (seq), so one ``after`` — the smallest any member still needs —
serves the whole set, and each member ignores what it already has.

Pure: the shell (app.browser.hub) feeds it joins, leaves, events and failures,
and does what it answers (open a stream, wait, say something in the status).
"""
from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass

from app.core.backoff import backoff

MAX_CONVERSATIONS = 50  # the server's limit for one stream
REOPEN_AFTER_END_S = 0.25  # a stream that was open ended (restart, token expiry): reopen almost at once
MAX_WAIT_S = 8.0  # between attempts while the server cannot be reached
REFUSED_WAIT_S = 30.0  # a ticket refused (signed out): ask again rarely; signing in wakes us
TOO_MANY = "Too many open tabs for this account: close one"


@dataclass
class Member:
    conversation: str
    seq: int  # the newest message it has: it is sent only what is newer
    covered: bool = False  # the open stream carries its conversation from `seq` on


class Subscriptions:
    """The members (canvases; other tabs' conversations) the one stream serves.

    ``dirty`` says the stream open now no longer fits: a conversation joined or
    left, or a member needs messages older than the stream has passed.
    """

    def __init__(self) -> None:
        self._members: dict[Hashable, Member] = {}
        self.streamed: tuple[str, ...] | None = None  # the set of the stream open (or opening) now
        self.position: int | None = None  # the stream carried every message of the set up to here
        self.dirty = False

    def __len__(self) -> int:
        return len(self._members)

    def conversations(self) -> tuple[str, ...]:
        """What the stream should carry: every member's conversation, sorted, once."""
        return tuple(sorted({m.conversation for m in self._members.values()}))

    def after(self) -> int:
        """Where the next stream starts: the oldest point any member needs."""
        return min((m.seq for m in self._members.values()), default=0)

    def seq_of(self, key: Hashable) -> int | None:
        member = self._members.get(key)
        return None if member is None else member.seq

    def join(self, key: Hashable, conversation: str, seq: int) -> bool:
        """A member (again) from `seq`; True when the stream must be opened anew for it."""
        member = self._members.get(key)
        if member is not None and member.conversation == conversation and member.seq <= seq:
            return False  # nothing new to ask for
        self._members[key] = Member(conversation, seq)
        behind = self.position is not None and seq < self.position
        if self.streamed is None or conversation not in self.streamed or behind:
            self.dirty = True
        return self.dirty

    def leave(self, key: Hashable) -> bool:
        """A member gone; True when the stream must change (its conversation left the set, or none is left)."""
        if self._members.pop(key, None) is None:
            return False
        if self.streamed is not None and self.conversations() != self.streamed:
            self.dirty = True
        return self.dirty

    def opening(self) -> tuple[tuple[str, ...], int]:
        """The set and `after` of the stream about to open: every member is carried from here."""
        self.streamed, after = self.conversations(), self.after()
        self.position, self.dirty = after, False
        for member in self._members.values():
            member.covered = True
            member.seq = max(member.seq, after)
        return self.streamed, after

    def closed(self) -> None:
        """No stream carries the set now: the next one starts where members are."""
        self.streamed, self.position = None, None
        for member in self._members.values():
            member.covered = False

    def deliver(self, conversation: str, seq: int) -> list[Hashable]:
        """The members a message of `conversation` goes to (those that lack it). Every member the
        stream carries has now had everything up to `seq`: a later stream starts there."""
        to = [key for key, m in self._members.items() if m.conversation == conversation and m.seq < seq]
        for member in self._members.values():
            if member.covered or member.conversation == conversation:
                member.seq = max(member.seq, seq)
        if self.position is None or seq > self.position:
            self.position = seq
        return to

    def by_conversation(self) -> dict[str, int]:
        """Each conversation and the oldest point a member of it needs (what a follower tab asks for)."""
        wanted: dict[str, int] = {}
        for m in self._members.values():
            wanted[m.conversation] = min(m.seq, wanted.get(m.conversation, m.seq))
        return wanted

    def of(self, conversation: str) -> list[Hashable]:
        return [key for key, m in self._members.items() if m.conversation == conversation]

    def keys(self) -> list[Hashable]:
        return list(self._members)


def follower_changes(before: dict[str, int], wanted: object, fresh: object) -> tuple[dict[str, int], list[str],
                                                                                  dict[str, int]]:
    """What a follower tab's "want" changes for the leader: (what it now follows, the conversations it
    left, those to join from their seq). A conversation it already followed is joined again only
    when a canvas of it joined since (`fresh`): its seq may be older than the stream's. Junk is ignored."""
    now = {c: s for c, s in wanted.items() if isinstance(c, str) and c and isinstance(s, int)
           and not isinstance(s, bool) and s >= 0} if isinstance(wanted, dict) else {}
    fresh_set = {c for c in fresh if isinstance(c, str)} if isinstance(fresh, list) else set()
    left = sorted(before.keys() - now.keys())
    joins = {c: s for c, s in now.items() if c not in before or c in fresh_set}
    return now, left, joins


@dataclass(frozen=True)
class Decision:
    """What the shell does after a failure: wait `wait` seconds, show `state`/`label` on the
    members (state "offline" or "refused", the colour of the status dot), and leave
    `drop` (a conversation the server refuses) out of the set."""

    wait: float
    state: str
    label: str
    hint: str = ""
    drop: str = ""


CONNECTING = Decision(0.0, "connecting", "Connecting…")


def status_of(decision: Decision, conversation: str, carried: Collection[str]) -> Decision | None:
    """What a canvas of `conversation` says while the stream's state is `decision` (None: keep what it
    says). "Live" only where the open stream carries its conversation: a canvas that joined since
    the stream opened (here or in another tab) says "Connecting…" until the stream opened anew for
    it is open, or a message sent in that moment would seem lost."""
    if decision.state == "live" and conversation not in carried:
        return None
    return decision


def after_ticket_failure(status: int, code: str, retryable: bool, retry_after: float | None,
                         failures: int, refused_conversation: str = "") -> Decision:
    """The ticket request failed (`failures` in a row, this one included)."""
    if status == 429 and code == "too_many_streams":
        wait = retry_after if retry_after is not None else backoff(failures)
        return Decision(wait, "refused", TOO_MANY,
                        "This account already has as many live connections as the server allows. Close another "
                        f"tab or window of this conversation; this one connects by itself (next try in {wait:g} s).")
    if status in (403, 404) and refused_conversation:
        return Decision(0.0, "refused", "No access", drop=refused_conversation)
    if status == 429:
        return Decision(retry_after if retry_after is not None else backoff(failures), "offline", "Reconnecting…")
    if retryable:
        return Decision(min(backoff(failures), MAX_WAIT_S), "offline", "Reconnecting…")
    return Decision(REFUSED_WAIT_S, "offline", "Reconnecting…")


def after_stream_error(was_open: bool, failures: int) -> Decision:
    """The stream ended (it was open: a restart, the token behind it expired) or could not open."""
    return Decision(REOPEN_AFTER_END_S if was_open else min(backoff(failures), MAX_WAIT_S), "offline",
                    "Reconnecting…")
