"""Keep picture-sized buffers out of glibc's heap, so the worker's memory stays flat over weeks.

glibc serves a large allocation with its own memory map, returned to the system when freed, but
only above its mmap threshold, and that threshold is dynamic: each freed mapped block raises it, up
to 32 MB. A worker frees decoded pictures, their BGR copies and input tensors (1-6 MB each) all day,
so after the first few the threshold sits above them and they come from the heap arenas of the
threads that allocate them, where freed space is reused only by the same sizes and rarely handed
back. Resident memory then creeps (measured: +70 MB/hour over 7 minutes at 16 cameras, SQLite's caches
and Python's objects flat). A fixed threshold keeps every such buffer mapped and returned on free:
the same run next to it held a level 80 MB lower, with spikes of buffers in flight instead of a creep
(docs/inference.md, bench/bench_soak.py).

`MALLOC_MMAP_THRESHOLD_` in the environment, read by glibc when the process starts, wins. Elsewhere
than glibc (musl, macOS) nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)
M_MMAP_THRESHOLD = -3  # glibc's malloc.h
ENV = "MALLOC_MMAP_THRESHOLD_"


def fix_mmap_threshold(kb: int) -> bool:
    """Map every allocation of `kb` KiB or more on its own (0: leave glibc's dynamic threshold).

    True when set here. Setting it also stops glibc moving it (mallopt(3))."""
    if kb <= 0 or ENV in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, kb * 1024) != 1:
        log.debug("malloc mmap threshold not set", extra={"kb": kb})
        return False
    return True
