"""The page's one retry policy: start-up, the send queue and uploads all wait by it."""

from hypothesis import given
from hypothesis import strategies as st

from app.core.backoff import POLICY, RetryPolicy, backoff


def test_waits_double_from_one_second_up_to_half_a_minute():
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff(10**6) == 30


def test_a_servers_retry_after_wins_unless_it_is_too_long_to_wait_for():
    assert POLICY.delay(1, retry_after=7.0) == 7.0
    assert POLICY.delay(5, retry_after=0.0) == 0.0
    assert POLICY.delay(1, retry_after=POLICY.max_retry_after + 1) is None  # say so instead of hanging


def test_the_budget_counts_automatic_retries():
    policy = RetryPolicy(retries=2)
    assert [policy.allows(n) for n in (1, 2, 3)] == [True, True, False]
    assert not RetryPolicy(retries=0).allows(1)


@given(st.integers(-5, 10**9), st.one_of(st.none(), st.floats(0, 10**6)))
def test_no_wait_is_ever_longer_than_the_longest(attempt, retry_after):
    delay = POLICY.delay(attempt, retry_after)
    assert delay is None or 0 <= delay <= POLICY.longest_wait
