from hypothesis import given, strategies as st

from app.core.pacing import FIRST_CHUNK, MAX_CHUNK, MAX_GROWTH, MIN_CHUNK, next_chunk_size

MiB = 1024 * 1024


def test_the_first_chunk_is_small_enough_to_show_progress_soon():
    assert next_chunk_size(0, 0.0) == FIRST_CHUNK == 4 * MiB


def test_a_fast_link_gets_few_big_chunks():
    assert next_chunk_size(4 * MiB, 0.02) == 200 * MiB  # 200 MiB/s for one second
    assert next_chunk_size(1 * MiB, 0.001) == 64 * MiB  # a freak reading grows at most 64x


def test_a_slow_link_gets_chunks_of_about_a_second():
    assert next_chunk_size(4 * MiB, 4.0) == 1 * MiB  # 1 MiB/s
    assert next_chunk_size(4 * MiB, 2.0) == 2 * MiB


def test_a_very_slow_link_still_sends_a_minimum():
    assert next_chunk_size(4 * MiB, 600.0) == MIN_CHUNK


@given(st.integers(1, 10**10), st.floats(0, 10**4, allow_nan=False))
def test_always_within_bounds_and_growth(previous, elapsed):
    size = next_chunk_size(previous, elapsed)
    assert MIN_CHUNK <= size <= MAX_CHUNK
    assert size <= max(MIN_CHUNK, previous * MAX_GROWTH)


def test_a_pacer_starts_the_next_upload_at_the_speed_the_last_large_chunk_measured():
    from app.core.pacing import Pacer

    pacer = Pacer()
    assert pacer.start() == FIRST_CHUNK
    assert pacer.observe(4 * MiB, 0.5) == 8 * MiB  # 8 MiB/s
    assert pacer.start() == 8 * MiB
    pacer.observe(1000, 2.0)  # a small file's chunk: mostly latency, not remembered
    assert pacer.start() == 8 * MiB


def test_a_pacer_halves_a_failed_chunk_down_to_its_minimum():
    from app.core.pacing import Pacer

    pacer = Pacer(first=8, minimum=3, maximum=64)
    assert [pacer.slow_down(c) for c in (16, 8, 5)] == [8, 4, 3]


def test_a_pacer_refuses_sizes_that_do_not_nest():
    import pytest
    from app.core.pacing import Pacer

    with pytest.raises(ValueError):
        Pacer(first=1, minimum=2, maximum=3)
