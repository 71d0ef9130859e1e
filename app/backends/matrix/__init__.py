"""Matrix: a room on any homeserver as an Attache conversation (sans-IO).

``adapter.MatrixConversation`` is the conversation API; the Matrix knowledge
lives in pure functions: ``wire`` (what we send), ``events`` (what we read
from any client's events), ``pages`` (a history page, a sync batch) and
``errors`` (what failures mean to people).

Page config (``backend`` table)::

    {"adapter": "matrix", "homeserver": "https://matrix.example",
     "room": "!abc" | "#support-1042:matrix.example",
     "identities": {"agent": "syt_..." | {"token": "syt_...", "user_id": "@agent:matrix.example"}},
     "attachments": {"max_file_size": "25 MB", "accepted_types": ["image/*", ".pdf"]}}

How the shell drives it (each ``perform`` is one fetch)::

    while (req := api.setup_request()) is not None:          # alias -> room id, whoami
        api.parse_setup(await perform(req))
    rules = api.parse_restrictions(await perform(api.restrictions_request()))
    page = api.parse_history(await perform(api.history_request()))       # newest page
    older = api.parse_history(await perform(api.history_request(page.older)))
    since = api.parse_sync(await perform(api.poll_request())).next_since  # at once
    batch = api.parse_sync(await perform(api.poll_request(since)))        # long-poll
    done = api.parse_upload(await perform(api.upload_request(info), file), info)
    req = api.send_request(text, [done], outgoing.idempotency_key)
    message = api.parse_message(await perform(req), req)

Media is authenticated: ``media_request(attachment)`` / ``thumbnail_request``
carry the token; the page shows the bytes as a ``blob:`` URL.
"""

from app.backends.matrix.adapter import MatrixConversation
from app.backends.matrix.compat import HistoryPage, Uploaded
from app.backends.matrix.pages import SyncBatch

__all__ = ["HistoryPage", "MatrixConversation", "SyncBatch", "Uploaded"]
