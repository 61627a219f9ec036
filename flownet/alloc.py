"""Large tensors served from the process heap instead of fresh memory maps (glibc only).

glibc's malloc gives every block above its mmap threshold (at most 32 MiB, however it adapts) a memory map of its
own and unmaps it when freed, so the next tensor of that size page-faults all its memory in again. Training
tensors are that large (8 x 64 x 160 x 224 floats after conv1 at batch 8, 320x448: 73 MB), and so are those of
inference on large frames: an out-of-place add on them took 20 ms instead of 5, a full-width training step was 8-16 %
slower, 1920x1080 inference 25 % (docs/performance.md).
"""

from __future__ import annotations

import ctypes
import functools
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
HEAP_LIMIT = 2**30  # bytes


@functools.cache
def keep_large_blocks() -> bool:
    """Serve blocks of up to 1 GiB from the heap and keep up to 1 GiB of freed memory there for reuse, for the rest
    of the process (and the processes it forks). Returns whether it took effect: False where the C library is
    not glibc. The cost is some fragmentation: the peak memory of a training step or of a 1080p inference grew by
    9-16 %, and then stayed flat over repeated calls."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_LIMIT) and mallopt(M_TRIM_THRESHOLD, HEAP_LIMIT))
