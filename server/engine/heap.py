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


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and others: no malloc_trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the heap's free pages to the system; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
