"""Generation benchmarks (``BENCHES`` in ``lrnnx_array._harness`` format) for ``bench --generate``.

lrnnx's inference grid (spec §6): ``generate`` with num_steps = L at B = 32, H = 128 for S5-LTI
(zoh, N = 16), LRU (N = 16) and Mamba (N = 16, expand 2). Each case times one whole
``generate`` call; tokens per second are ``B * steps / seconds`` (:func:`tokens_per_second`).
On CuPy the case times the CUDA-graph replay with the plain loop as its baseline (lrnnx
reports the graph as more than 10x faster than the loop); on NumPy the plain loop alone.
The start is x0 = 0 (lrnnx's). CPU step counts stop at 256 so a sweep stays within seconds;
"gpu" covers lrnnx's 8 .. 2048.
"""

from __future__ import annotations

import numpy as np

from .. import testing
from .._backend import is_cupy
from .._harness import Bench, Case, Work
from ..generation import generate


def _model(kind, H, N, xp, dtype):
    from ..models.lti import LRU, S5
    from ..models.ltv import Mamba

    kw = dict(seed=0, dtype=dtype, xp=xp)
    return {"s5": lambda: S5(H, N, "zoh", **kw),
            "lru": lambda: LRU(H, N, **kw),
            "mamba": lambda: Mamba(H, d_state=N, expand=2, **kw)}[kind]()


def tokens_per_second(size: dict, seconds: float) -> float:
    """Generated tokens per second of one case of these benches."""
    return size["B"] * size["steps"] / seconds


def _make(kind):
    def make(xp, dtype, B, H, steps, N=16):
        m = _model(kind, H, N, xp, dtype)
        # x0 = 0, as lrnnx's benchmark: a fed-back random start diverges for models with
        # |D| > 1 and would time inf/NaN arithmetic
        x = testing.from_numpy(xp, np.zeros((B, H)), dtype)
        s = np.dtype(dtype).itemsize
        work = Work(bytes=2 * s * B * H * steps)
        if is_cupy(xp):
            return Case(fwd=lambda: generate(m, x, steps, use_cuda_graph=True), fwd_work=work,
                        baselines={"plain loop": lambda: generate(m, x, steps)})
        return Case(fwd=lambda: generate(m, x, steps), fwd_work=work)
    return make


BENCHES = [
    Bench(f"{kind} generate", _make(kind), sizes={
        "small": [dict(B=2, H=16, steps=8)],
        "cpu": [dict(B=32, H=128, steps=n) for n in (8, 64, 256)],
        "gpu": [dict(B=32, H=128, steps=n) for n in (8, 32, 128, 512, 2048)],
    })
    for kind in ("s5", "lru", "mamba")
]
