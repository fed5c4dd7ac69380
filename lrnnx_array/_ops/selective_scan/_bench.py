"""selective_scan benchmarks: the issue's CPU target and the roofline of performance.md §3.1.

cpu: B=2 D=256 L=1024 N=16, variable B/C, mamba, float32 (issue target <= 40 ms on a 2-core
machine; lrnnx's torch reference takes 172 ms there) and lrnnx's deltaA test shape.
gpu: B=8 D=1536 L=2048 N=16 variable B/C with z (issue: fwd >= 60 %, bwd >= 40 % of the
roofline) and lrnnx's benchmark grid B=32 D=256 L in {512, 2048}.
"""

import functools
import math

import numpy as np

from ... import _bench_jax, _bench_torch, testing
from ..._harness import Bench, Case, Work, peers
from ._api import selective_scan, selective_scan_vjp


def _make(xp, dtype, Bsz, Dm, L, N, z=False, G=1, method="mamba", deltaA=False, cplx=False):
    rng = np.random.default_rng(0)

    def put(x):
        return testing.from_numpy(xp, x, dtype)

    var = (Bsz, N, L) if G == 1 else (Bsz, G, N, L)
    host = dict(
        u=rng.standard_normal((Bsz, Dm, L)),
        delta=rng.uniform(-3, 0, (Bsz, Dm, L)),
        A=-np.broadcast_to(np.arange(1.0, N + 1), (Dm, N)).copy(),
        B=rng.standard_normal(var),
        C=rng.standard_normal(var),
        D=np.ones(Dm),
        z=rng.standard_normal((Bsz, Dm, L)) if z else None,
        delta_bias=rng.uniform(-4, -2, Dm),
    )
    if cplx:  # S4D-Lin-like complex A, complex variable B/C
        cdt = "complex64" if dtype == "float32" else "complex128"
        host["A"] = host["A"] * 0 - 0.5 + 1j * np.pi * np.arange(N)
        host["B"] = host["B"] + 1j * rng.standard_normal(var)
        host["C"] = host["C"] + 1j * rng.standard_normal(var)
    args = [
        None if host[k] is None else (testing.from_numpy(xp, host[k], cdt) if cplx and k in
                                      ("A", "B", "C") else put(host[k]))
        for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")
    ]
    kw = dict(
        delta_softplus=True,
        discretization=method,
        deltaA=put(0.5 * rng.uniform(size=(Bsz, Dm, L))) if deltaA else None,
    )
    dout = put(rng.standard_normal((Bsz, Dm, L)))
    s = np.dtype(dtype).itemsize
    nz = 1 if z else 0
    bdl, bgnl = Bsz * Dm * L, Bsz * G * N * L
    fwd_bytes = s * ((3 + 2 * nz) * bdl + 2 * bgnl) + Bsz * Dm * math.ceil(L / 2048) * N * 8
    bwd_bytes = s * (5 + 3 * nz) * bdl + 2 * bgnl * (s + 8)
    sfu = Bsz * Dm * L * N
    baselines = {}
    if G == 1:
        # Peers on the same arrays: JAX's lax.scan / associative_scan / vjp of the recurrence,
        # and lrnnx's reference algorithm (materialised (B, D, L, N) gates, a loop) in torch.
        names = ("D", "z", "delta_bias", "deltaA")
        extra = dict(zip(names, (args[5], args[6], args[7], kw["deltaA"])))
        has = tuple(k for k in names if extra[k] is not None)
        scan, assoc = _bench_jax.selective_scan_fns(method, True, has)
        jargs = tuple(args[:5]) + tuple(extra[k] for k in has)
        tfn = functools.partial(_bench_torch.selective_scan_ref_alg, softplus=True,
                                method=method)
        baselines.update(peers(xp, jax=(scan, assoc, jargs, dout),
                               torch=(tfn, (*args[:5], *(extra[k] for k in names)))))
    if xp.__name__.endswith("numpy"):
        # impl="auto" is the numba tier when numba imports: the array-API path side by side, and
        # one elementwise a*b+b pass over the state volume B*D*N*L (the floor).
        baselines["generic"] = lambda: selective_scan(*args, **kw, impl="generic")
        baselines["generic_vjp"] = lambda: selective_scan_vjp(dout, *args, **kw, impl="generic")
        fa = rng.uniform(size=(Bsz * Dm * N, L)).astype(args[2].dtype)
        baselines["floor_state_a*b+b"] = lambda: fa * fa + fa
    return Case(
        fwd=lambda: selective_scan(*args, **kw),
        bwd=lambda: selective_scan_vjp(dout, *args, **kw),
        # The yardstick: max(T_mem, T_sfu) with one exp per state element (the backward
        # kernel computes two: the checkpoint pass and the in-chunk recompute).
        fwd_work=Work(bytes=fwd_bytes, sfu=sfu),
        bwd_work=Work(bytes=bwd_bytes, sfu=sfu),
        baselines=baselines,
    )


BENCHES = [
    Bench(
        "selective_scan",
        _make,
        sizes={
            "small": [dict(Bsz=2, Dm=16, L=128, N=8)],
            "cpu": [
                dict(Bsz=2, Dm=256, L=1024, N=16),
                dict(Bsz=2, Dm=128, L=1024, N=64, z=True, deltaA=True, method="zoh"),
                # The floor sizes: 4096 state rows (B*D*N) x L=1024, 16 rows x 65536.
                dict(Bsz=1, Dm=256, L=1024, N=16),
                dict(Bsz=1, Dm=256, L=1024, N=16, cplx=True),
                dict(Bsz=1, Dm=1, L=65536, N=16),
                dict(Bsz=1, Dm=1, L=65536, N=16, cplx=True),
            ],
            "gpu": [
                dict(Bsz=8, Dm=1536, L=2048, N=16, z=True),
                dict(Bsz=32, Dm=256, L=2048, N=16, z=True),
                dict(Bsz=32, Dm=256, L=512, N=16, z=True),
            ],
        },
    ),
]
