"""Attachments as the page sees them: signed links, the download endpoints, thumbnails."""
