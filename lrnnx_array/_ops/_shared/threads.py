"""One thread pool for the NumPy paths (NumPy ufuncs release the GIL, so row blocks overlap)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None


def threads() -> int:
    """Worker count: the cores, at most 8 (more only adds contention on memory-bound passes)."""
    return max(1, min(os.cpu_count() or 1, 8))


def get_pool() -> ThreadPoolExecutor:
    """The shared pool, created on first use."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(threads(), thread_name_prefix="lrnnx_scan")
    return _pool
