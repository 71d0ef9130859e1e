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


def next_chunk_size(previous_size: int, elapsed_seconds: float, *, first: int = FIRST_CHUNK,
                    minimum: int = MIN_CHUNK, maximum: int = MAX_CHUNK) -> int:
    """The size for the next chunk after `previous_size` bytes took `elapsed_seconds`."""
    if previous_size <= 0:
        return first
    rate = previous_size / max(elapsed_seconds, 1e-3)
    wanted = int(rate * TARGET_SECONDS)
    return max(minimum, min(wanted, previous_size * MAX_GROWTH, maximum))


class Pacer:
    """Chunk sizes for one page's uploads.

    One pacer is shared by the uploads an uploader begins, so a new upload
    starts at the speed the last large chunk measured (a small file's chunk
    says more about latency than speed, so it is not remembered).
    """

    def __init__(self, first: int = FIRST_CHUNK, minimum: int = MIN_CHUNK, maximum: int = MAX_CHUNK) -> None:
        if not 0 < minimum <= first <= maximum:
            raise ValueError(
                f"chunk sizes must satisfy 0 < minimum <= first <= maximum, got {minimum}, {first}, {maximum}")
        self.first, self.minimum, self.maximum = first, minimum, maximum
        self._measure = (0, 0.0)

    def start(self) -> int:
        """The first chunk of a new upload."""
        return self._next(*self._measure)

    def observe(self, sent: int, seconds: float) -> int:
        """`sent` bytes were confirmed `seconds` after the chunk left: the size for the next one."""
        if sent >= self.minimum:
            self._measure = (sent, seconds)
        return self._next(sent, seconds)

    def slow_down(self, chunk: int) -> int:
        """A chunk failed (timeout, network): the next one is half as big."""
        return max(self.minimum, chunk // 2)

    def _next(self, sent: int, seconds: float) -> int:
        return next_chunk_size(sent, seconds, first=self.first, minimum=self.minimum, maximum=self.maximum)
