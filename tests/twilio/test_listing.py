"""Reading Retry-After as Twilio may send it: seconds, or an HTTP date."""
from __future__ import annotations

import time
from email.utils import formatdate

from server.bridges.twilio.listing import retry_after


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after("2") == 2.0 and retry_after("0.5") == 0.5 and retry_after("-3") == 0.0
    assert 55 <= retry_after(formatdate(time.time() + 60, usegmt=True)) <= 60
    assert retry_after(formatdate(time.time() - 60, usegmt=True)) == 0.0
    assert retry_after(None) is None and retry_after("") is None and retry_after("soon") is None
