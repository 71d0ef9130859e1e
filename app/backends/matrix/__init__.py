"""Matrix: a room on any homeserver as an Attache conversation (sans-IO).

``adapter.MatrixConversation`` is the conversation API; the Matrix knowledge
is in pure functions: ``wire`` (what we send), ``events`` (what we read),
``errors`` (what failures mean to people).
"""

from app.backends.matrix.adapter import MatrixConversation, Uploaded
from app.backends.matrix.pages import HistoryPage, SyncBatch

__all__ = ["HistoryPage", "MatrixConversation", "SyncBatch", "Uploaded"]
