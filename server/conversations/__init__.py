"""The conversation API: messages (history, send) and their live event streams."""
