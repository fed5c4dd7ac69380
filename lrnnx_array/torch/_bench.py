"""Backward/forward time through the torch bridge vs the bare NumPy op and VJP (issue 17).

The bridge saves the op's inputs and its backward calls the op's public VJP, which recomputes
the forward it needs (see :mod:`lrnnx_array.torch._functions`). This measures what that costs:
for diag_scan and selective_scan on CPU, the forward and the VJP on NumPy arrays, and the
forward and ``backward()`` on torch tensors through the bridge, per implementation.

    python -m lrnnx_array.torch._bench [--repeat N] [--impl auto,generic]

Prints one line per (op, impl): milliseconds (min of N) and the bwd/fwd ratios. A measuring
tool, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _min_ms(fn, repeat: int, setup=None) -> float:
    best = float("inf")
    for _ in range(repeat + 1):  # one warm-up (numba compiles, caches fill)
        state = setup() if setup is not None else None
        t0 = time.perf_counter()
        fn(state)
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best


def _cases(small: bool = False):
    rng = np.random.default_rng(0)
    f = np.float32
    R, L = (8, 16) if small else (4096, 1024)  # the diag_scan bench's first cpu size
    diag = dict(a=rng.uniform(0.5, 0.99, (R, L)).astype(f), b=rng.standard_normal((R, L)).astype(f))
    # the selective_scan bench's cpu target (variable B/C)
    Bsz, Dm, L2, N = (1, 4, 16, 2) if small else (2, 256, 1024, 16)
    sel = dict(
        u=rng.standard_normal((Bsz, Dm, L2)).astype(f),
        delta=rng.uniform(-3, 0, (Bsz, Dm, L2)).astype(f),
        A=-np.broadcast_to(np.arange(1.0, N + 1), (Dm, N)).astype(f),
        B=rng.standard_normal((Bsz, N, L2)).astype(f),
        C=rng.standard_normal((Bsz, N, L2)).astype(f),
        D=np.ones(Dm, f),
        delta_bias=rng.uniform(-4, -2, Dm).astype(f),
    )
    return [
        ("diag_scan", f"R={R} L={L} float32", diag, {}),
        ("selective_scan", f"B={Bsz} D={Dm} L={L2} N={N} var B/C mamba float32", sel,
         {"delta_softplus": True}),
    ]


def _one(op, vjp, arrays: dict, kw: dict, dout, repeat: int) -> dict:
    """ms of the NumPy forward and VJP, and of the bridge's forward and backward()."""
    import torch

    np_fwd = _min_ms(lambda _: op(**arrays, **kw), repeat)
    np_vjp = _min_ms(lambda _: vjp(dout, **arrays, **kw), repeat)
    tdout = torch.from_numpy(dout)

    def leaves():
        return {n: torch.from_numpy(a.copy()).requires_grad_(True) for n, a in arrays.items()}

    tr_fwd = _min_ms(lambda t: op(**t, **kw), repeat, setup=leaves)
    tr_bwd = _min_ms(lambda out: out.backward(tdout), repeat, setup=lambda: op(**leaves(), **kw))
    return dict(numpy_fwd_ms=np_fwd, numpy_vjp_ms=np_vjp, bridge_fwd_ms=tr_fwd,
                bridge_bwd_ms=tr_bwd, numpy_ratio=np_vjp / np_fwd, bridge_ratio=tr_bwd / tr_fwd)


def measure(repeat: int = 5, impls=("auto", "generic"), *, small: bool = False) -> list[dict]:
    """One record per (op, impl): NumPy fwd/vjp ms, bridge fwd/bwd ms and the ratios
    (``small``: tiny sizes, for the smoke test)."""
    from .. import ops

    rows = []
    for name, label, arrays, kw in _cases(small):
        op, vjp = getattr(ops, name), getattr(ops, name + "_vjp")
        shape = op(**arrays, **kw).shape
        dout = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        for impl in impls:
            rec = _one(op, vjp, arrays, dict(kw, impl=impl), dout, repeat)
            rows.append(dict(op=name, size=label, impl=impl, **rec))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lrnnx_array.torch._bench",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--impl", default="auto,generic")
    args = p.parse_args(argv)
    impls = tuple(s.strip() for s in args.impl.split(",") if s.strip())
    print(f"{'op':15s} {'impl':8s} {'np fwd':>8s} {'np vjp':>8s} {'vjp/fwd':>7s} "
          f"{'tr fwd':>8s} {'tr bwd':>8s} {'bwd/fwd':>7s}  (ms, min of {args.repeat})")
    for r in measure(args.repeat, impls):
        print(f"{r['op']:15s} {r['impl']:8s} {r['numpy_fwd_ms']:8.1f} {r['numpy_vjp_ms']:8.1f} "
              f"{r['numpy_ratio']:7.2f} {r['bridge_fwd_ms']:8.1f} {r['bridge_bwd_ms']:8.1f} "
              f"{r['bridge_ratio']:7.2f}  [{r['size']}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
