"""Giving freed memory back to the operating system.

A document's caches are thousands of small arrays (states, memory units). When they are dropped
(the document is closed, or others were used since), glibc keeps their memory in its heap for
reuse, and the server's resident size stays where it peaked: 20 documents opened one after
another held ~75 MB that nothing used. `malloc_trim` hands the free pages back (a few ms for a
large heap, so the server calls it while the user pauses). Elsewhere than glibc it is a no-op.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable

M_ARENA_MAX = -8
"""glibc's `mallopt` parameter for the most heaps ("arenas") threads may spread over."""


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError):  # musl and others: neither
        return None
    return libc


def _malloc_trim() -> Callable[[int], int] | None:
    libc = _libc()
    return None if libc is None else libc.malloc_trim


def one_heap() -> bool:
    """Have every thread allocate from the one heap (call before starting threads). A thread
    that allocates gets a heap of its own otherwise, and the model loaded on a thread of its
    own (lsp/loading.py) left ~7 MB of its heap resident, between the arrays it keeps. The
    server's threads allocate little while the user types. False where it is not possible."""
    libc = _libc()
    return libc is not None and libc.mallopt(M_ARENA_MAX, 1) == 1


def release_free_memory() -> bool:
    """Return the heap's free pages to the system; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
