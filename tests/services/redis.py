"""The session's Redis for the tests (tools/services/redis.py starts it)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.services.redis import RedisService


@pytest.fixture(scope="session")
def redis_service() -> Iterator[RedisService]:
    service = RedisService().start()
    yield service
    service.cleanup()
