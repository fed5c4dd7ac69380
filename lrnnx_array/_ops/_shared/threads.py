"""One thread pool for the NumPy paths (NumPy ufuncs release the GIL, so row blocks overlap)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from concurrent.futures import ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None
# A cap on the workers an op call uses, per thread / context (None: no cap). Dask tasks run under
# ``limit(1)`` (lrnnx_array.dask): Dask already runs one task per core, and a pool inside each
# task would oversubscribe the cores.
_cap: contextvars.ContextVar[int | None] = contextvars.ContextVar("lrnnx_thread_cap",
                                                                  default=None)


@functools.cache
def _cores() -> int:
    # Read once: os.cpu_count() cost ~10 us a call on a Firecracker VM, paid by every numba
    # launch (a decode step's whole kernel is tens of us).
    return max(1, min(os.cpu_count() or 1, 8))


def threads() -> int:
    """Worker count: the cores, at most 8 (more only adds contention on memory-bound passes),
    at most the cap of :func:`limit` when one is active."""
    n = _cores()
    cap = _cap.get()
    return n if cap is None else max(1, min(n, cap))


@contextlib.contextmanager
def limit(n: int):
    """Within the block, op calls from this thread use at most ``n`` pool workers (1: inline)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    token = _cap.set(n)
    try:
        yield
    finally:
        _cap.reset(token)


def get_pool() -> ThreadPoolExecutor:
    """The shared pool, created on first use."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(threads(), thread_name_prefix="lrnnx_scan")
    return _pool
