"""Keeping the cores busy without oversubscribing them: stages overlapped through bounded queues, and as many
compute threads as this process's share of the CPUs."""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items`` produced by a background thread, at most ``depth`` ahead of the consumer (memory stays flat), so
    that decoding, computing and encoding overlap; an exception of the producer is raised here, and a consumer that
    stops early stops the producer."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    source = iter(items)

    def produce() -> None:
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as e:  # handed to the consumer
            put((_DONE, e))
        finally:
            if hasattr(source, "close"):  # a generator: its own clean-up (files, threads) runs now
                source.close()

    worker = threading.Thread(target=produce, name="flownet-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ahead.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def busy_elsewhere() -> float:
    """How many CPUs other processes keep busy now: the runnable tasks of /proc/loadavg less this process's own
    (its OpenMP threads spin for a while after each parallel region), median of 5 reads 10 ms apart; the 1-minute
    load average where there is no /proc."""
    try:
        reads = []
        for _ in range(5):
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
            reads.append(running - sum(_state(task) == "R" for task in os.listdir("/proc/self/task")))
            time.sleep(0.01)
        return float(max(0, sorted(reads)[2]))
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def _state(task: str) -> str:
    """The scheduler state letter of one of this process's threads ("R": running or runnable)."""
    try:
        with open(f"/proc/self/task/{task}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:  # the thread ended meanwhile
        return ""


def compute_threads(cpus: int | None = None, busy: float | None = None) -> int:
    """Threads for this process's compute: the CPUs it may use (default: its affinity) less those other processes
    keep busy (default: ``busy_elsewhere()``), at least 1. OpenMP threads that find their core taken stall at every
    barrier: beside one busy process, two threads on two cores ran a network 2.45x slower, one thread 1.5x."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if busy is None:
        busy = busy_elsewhere()
    return max(1, min(cpus, round(cpus - busy)))


def use_threads(n: int) -> None:
    """Run torch's and OpenCV's compute on ``n`` threads."""
    import torch

    from .classical import import_cv2

    torch.set_num_threads(n)
    import_cv2().setNumThreads(n)
