"""Overlapped stages (a bounded queue) and the thread count: order, memory bound, errors, clean-up."""

import threading

import pytest

from flownet.concurrency import compute_threads, prefetched


def test_prefetched_keeps_order_and_stays_within_depth():
    """Every item, in order, and the producer never more than depth (+ the one in its hand) ahead of the
    consumer: catches an unbounded queue, whose memory grows with the video."""
    made = []

    def source():
        for k in range(50):
            made.append(k)
            yield k

    got = []
    for item in prefetched(source(), depth=2):
        assert len(made) - len(got) <= 2 + 1 + 1  # queued, in the producer's hand, and this one
        got.append(item)
    assert got == list(range(50))


def test_prefetched_raises_the_producers_error_in_the_consumer():
    def source():
        yield 1
        raise ValueError("bad frame")

    it = prefetched(source())
    assert next(it) == 1
    with pytest.raises(ValueError, match="bad frame"):
        next(it)


def test_a_consumer_that_stops_early_stops_the_producer_and_closes_its_source():
    closed = threading.Event()

    def source():
        try:
            for k in range(10**9):
                yield k
        finally:
            closed.set()

    before = threading.active_count()
    it = prefetched(source(), depth=1)
    assert next(it) == 0
    it.close()
    assert closed.is_set() and threading.active_count() == before  # no thread left behind


def test_compute_threads_leaves_busy_cpus_alone():
    assert compute_threads(cpus=2, busy=0) == 2
    assert compute_threads(cpus=2, busy=1) == 1
    assert compute_threads(cpus=2, busy=5) == 1  # never fewer than one
    assert compute_threads(cpus=16, busy=3.4) == 13
    assert 1 <= compute_threads() <= 4096
