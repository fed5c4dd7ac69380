"""Small float64 problems for the time-blocked Dask scans: (op name, positional/keyword arrays,
static keywords, state shape, output is complex?). Arrays are NumPy; tests chunk them."""

from __future__ import annotations

import numpy as np

L = 11
BATCH = 2


def _rng(seed):
    return np.random.default_rng(seed)


def diag(seed=0, broadcast=False):
    r = _rng(seed)
    a = r.uniform(0.6, 1.0, (BATCH, 3, L))
    if broadcast:  # a constant gate per row and a broadcast initial state
        a = r.uniform(0.6, 1.0, (3, 1))
        h0 = r.normal(size=(3,))
    else:
        h0 = r.normal(size=(BATCH, 3))
    arrays = {"a": a, "b": r.normal(size=(BATCH, 3, L))}
    return arrays, h0, {}, (BATCH, 3)


def selective(seed=0, discretization="mamba", complex_a=False, groups=0, full=True):
    r = _rng(seed)
    Dm, N = 3, 4
    if discretization == "rglru":
        A = r.uniform(0.5, 0.99, (Dm, N))
    else:
        A = -r.uniform(0.3, 1.5, (Dm, N))
    if complex_a:
        A = A + 1j * r.normal(size=(Dm, N))
    bc = (BATCH, N, L) if not groups else (BATCH, groups, N, L)
    B, C = r.normal(size=bc), r.normal(size=bc)
    if complex_a:
        B = B + 1j * r.normal(size=bc)
    arrays = dict(u=r.normal(size=(BATCH, Dm, L)), delta=r.uniform(-1.0, 0.5, (BATCH, Dm, L)),
                  A=A, B=B, C=C)
    if full:
        arrays.update(D=r.normal(size=Dm), z=r.normal(size=(BATCH, Dm, L)),
                      delta_bias=r.normal(size=Dm) * 0.1)
    h0 = r.normal(size=(BATCH, Dm, N)) + (1j * r.normal(size=(BATCH, Dm, N)) if complex_a else 0)
    kw = dict(delta_softplus=True, discretization=discretization)
    return arrays, h0, kw, (BATCH, Dm, N)


def rglru(seed=0):
    r = _rng(seed)
    arrays = dict(u=r.normal(size=(BATCH, 4, L)), delta=r.uniform(0.1, 2.0, (BATCH, 4, L)),
                  A=r.uniform(0.6, 0.999, (4, 2)))
    return arrays, r.normal(size=(BATCH, 4, 2)), {}, (BATCH, 4, 2)


def s7(seed=0):
    r = _rng(seed)
    H, N = 3, 4
    arrays = dict(u=r.normal(size=(BATCH, H, L)), A=r.normal(size=(BATCH, N, L)),
                  B=r.normal(size=(BATCH, N, H, L)) * 0.3, C=r.normal(size=(BATCH, H, N, L)),
                  bias=r.normal(size=(BATCH, N, L)) * 0.1)
    return arrays, r.normal(size=(BATCH, N)), {}, (BATCH, N)


def simplified(seed=0, event=False, inner=False, discretization="bilinear"):
    r = _rng(seed)
    H, P = 3, 4
    arrays = dict(u=r.normal(size=(BATCH, H, L)),
                  delta=r.uniform(0.05, 0.5, (BATCH, L)) if event else r.uniform(0.05, 0.5, P),
                  A=-r.uniform(0.2, 1.0, P) + 1j * r.normal(size=P),
                  B=r.normal(size=(P, H)) + 1j * r.normal(size=(P, H)),
                  C=r.normal(size=(H, P)) + 1j * r.normal(size=(H, P)))
    if inner:
        arrays["D"] = r.normal(size=H)
    h0 = r.normal(size=(BATCH, P)) + 1j * r.normal(size=(BATCH, P))
    return arrays, h0, dict(discretization=discretization), (BATCH, P)


# name -> (builder, dask module function name)
CASES = {
    "diag": lambda: diag(),
    "diag-broadcast": lambda: diag(broadcast=True),
    "selective-mamba": lambda: selective(),
    "selective-zoh": lambda: selective(discretization="zoh"),
    "selective-bilinear": lambda: selective(discretization="bilinear", full=False),
    "selective-dirac": lambda: selective(discretization="dirac"),
    "selective-s7": lambda: selective(discretization="s7"),
    "selective-rglru": lambda: selective(discretization="rglru"),
    "selective-complex": lambda: selective(complex_a=True),
    "selective-grouped": lambda: selective(groups=3, full=False),
    "rglru": lambda: rglru(),
    "s7": lambda: s7(),
    "simplified": lambda: simplified(),
    "simplified-event-zoh": lambda: simplified(event=True, discretization="zoh"),
    "s5_inner": lambda: simplified(inner=True),
}
OP_OF = {"diag": "diag_scan", "selective": "selective_scan", "rglru": "rglru_scan",
         "s7": "s7_scan", "simplified": "simplified_scan", "s5_inner": "s5_inner"}


def op_name(case):
    return OP_OF[case.split("-")[0]]


# The output's cotangent is real for every op but simplified_scan (complex y).
COMPLEX_OUT = {"simplified_scan"}
HAS_LAST = {"selective_scan", "rglru_scan", "s7_scan", "simplified_scan"}
