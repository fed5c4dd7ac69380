"""Self-check and benchmark registry behind ``python -m lrnnx_array check | bench``.

Each op package may hold ``_selfcheck.py`` with ``CHECKS: list[Check]`` and ``_bench.py`` with
``BENCHES: list[Bench]``; they are discovered here, so adding an op never edits a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

# H100 SXM figures from spec/performance.md §3 (BW measured on the lent machine).
GPU_PEAKS = {"bw": 3.0e12, "sfu": 4.18e12, "fma": 3.35e13}


@dataclass
class Check:
    """One oracle comparison: ``run(xp, impl, dtype) -> (max_abs_err, tolerance)``."""

    name: str
    run: Callable
    dtypes: tuple = ("float32", "float64")


@dataclass
class Work:
    """Work of one call for the roofline: bytes moved, transcendental ops, FMAs."""

    bytes: float = 0.0
    sfu: float = 0.0
    fma: float = 0.0

    def roofline_s(self, peaks=GPU_PEAKS) -> float:
        return max(self.bytes / peaks["bw"], self.sfu / peaks["sfu"], self.fma / peaks["fma"])


@dataclass
class Case:
    """A benchmark case made by ``Bench.make``: thunks to time plus their work."""

    fwd: Callable
    bwd: Callable | None = None
    fwd_work: Work | None = None
    bwd_work: Work | None = None
    baselines: dict = field(default_factory=dict)  # name -> thunk, timed side by side


@dataclass
class Bench:
    """``make(xp, dtype, **size) -> Case``; ``sizes`` maps a size label to keyword sizes."""

    name: str
    make: Callable
    sizes: dict  # {"cpu": [dict, ...], "gpu": [dict, ...], "small": [dict, ...]}
    dtype: str = "float32"


def _discover(modname: str, attr: str) -> list:
    import lrnnx_array._ops as ops_pkg

    found = []
    for info in sorted(pkgutil.walk_packages(ops_pkg.__path__, prefix="lrnnx_array._ops."),
                       key=lambda i: i.name):
        if info.name.endswith("." + modname):
            found.extend(getattr(importlib.import_module(info.name), attr, []))
    return found


def all_checks() -> list[Check]:
    return _discover("_selfcheck", "CHECKS")


def all_benches() -> list[Bench]:
    return _discover("_bench", "BENCHES")


def time_call(fn, xp, *, repeat: int = 5, warmup: int = 1, budget_s: float = 5.0) -> float:
    """Median seconds of ``fn()``; CUDA events on CuPy, perf_counter elsewhere."""
    from ._backend import is_cupy

    for _ in range(warmup):
        fn()
    times = []
    if is_cupy(xp):
        import cupy

        for _ in range(repeat):
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    else:
        t_end = time.perf_counter() + budget_s
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
            if time.perf_counter() > t_end:
                break
    return statistics.median(times)
