"""selective_scan against its float64 oracle at small sizes (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import selective_scan, selective_scan_vjp
from ._ref import selective_scan_ref, selective_scan_vjp_ref

_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def _data(method, cplx, L=64):
    rng = np.random.default_rng(0)
    Bsz, Dm, N, G = 2, 8, 4, 2
    a = dict(
        u=rng.standard_normal((Bsz, Dm, L)),
        delta=0.5 * rng.uniform(size=(Bsz, Dm, L)),
        A=-rng.uniform(0.2, 1.5, (Dm, N)),
        B=rng.standard_normal((Bsz, G, N, L)),
        C=rng.standard_normal((Bsz, G, N, L)),
        D=rng.standard_normal(Dm),
        z=rng.standard_normal((Bsz, Dm, L)),
        delta_bias=0.5 * rng.uniform(size=Dm),
    )
    if method == "rglru":
        a["A"] = rng.uniform(0.5, 0.99, (Dm, N))
    if cplx:
        a["A"] = a["A"] + 1j * rng.standard_normal((Dm, N))
        a["B"] = a["B"] + 1j * rng.standard_normal(a["B"].shape)
        a["C"] = a["C"] + 1j * rng.standard_normal(a["C"].shape)
    extra = dict(
        deltaA=0.3 + 0.5 * rng.uniform(size=(Bsz, Dm, L)),
        h0=rng.standard_normal((Bsz, Dm, N)) + (1j if cplx else 0),
    )
    return a, extra, rng.standard_normal((Bsz, Dm, L))


def _runner(method, cplx):
    def run(xp, impl, dtype):
        a, extra, dout = _data(method, cplx)
        opts = dict(delta_softplus=True, discretization=method)
        pos = [a[k] for k in _NAMES]
        want = [
            selective_scan_ref(*pos, deltaA=extra["deltaA"], h0=extra["h0"], **opts),
            *selective_scan_vjp_ref(dout, *pos, deltaA=extra["deltaA"], h0=extra["h0"], **opts),
        ]
        ct = "complex64" if dtype == "float32" else "complex128"

        def put(v):
            return testing.from_numpy(xp, v, ct if np.iscomplexobj(v) else dtype)

        xpos = [put(v) for v in pos]
        kw = dict(deltaA=put(extra["deltaA"]), h0=put(extra["h0"]), impl=impl, **opts)
        grads = selective_scan_vjp(put(dout), *xpos, **kw)
        return pairs(("out", *grads._fields), [selective_scan(*xpos, **kw), *grads], want)

    return run


CHECKS = [
    Check(
        f"selective_scan {m}{' complex' if c else ''} fwd+vjp",
        _runner(m, c),
        ("float32", "float64"),
    )
    for m, c in [
        ("mamba", False),
        ("zoh", True),
        ("bilinear", False),
        ("dirac", True),
        ("s7", False),
        ("rglru", False),
    ]
]
