"""How big the next upload chunk should be.

Each chunk is one request, and between requests the upload stands still, so
small chunks waste a fast link; big chunks make progress jumpy and a failure
costly on a slow one. We aim for chunks that take about a second at the speed
measured so far: a few requests on a fast link, steady progress on a slow one.
"""
from __future__ import annotations

FIRST_CHUNK = 4 * 1024 * 1024
MIN_CHUNK = 1024 * 1024
MAX_CHUNK = 512 * 1024 * 1024
TARGET_SECONDS = 1.0
MAX_GROWTH = 64  # a guard against one freak measurement, not a ramp: few requests on fast links


def next_chunk_size(previous_size: int, elapsed_seconds: float) -> int:
    """The size for the next chunk after `previous_size` bytes took `elapsed_seconds`."""
    if previous_size <= 0:
        return FIRST_CHUNK
    rate = previous_size / max(elapsed_seconds, 1e-3)
    wanted = int(rate * TARGET_SECONDS)
    return max(MIN_CHUNK, min(wanted, previous_size * MAX_GROWTH, MAX_CHUNK))
