"""Small valid calls of every differentiable op, as NumPy data (the tests make tensors of it).

``CASES[op][variant]()`` -> ``(args, kwargs)``: positional arguments in the op's order (NumPy
arrays, ints, strings, None) and keywords. ``float64``: every argument that may be real is real;
``complex128``: the parameters that may be complex are complex. Ops that are real by definition
(RG-LRU, S7, the causal conv) have no complex variant; S4's kernels have complex parameters in
both (their ``float64`` variant makes only ``dt`` and the real-capable inputs real).
"""

from __future__ import annotations

import numpy as np


def _rng(seed=0):
    return np.random.default_rng(seed)


def _c(rng, *shape, scale=1.0):
    return scale * (rng.normal(size=shape) + 1j * rng.normal(size=shape))


def _stable_c(rng, *shape):
    # Re < 0: decaying continuous-time poles
    return -rng.uniform(0.3, 1.0, shape) + 1j * rng.normal(size=shape)


def diag_scan(v):
    r = _rng(1)
    if v == "float64":
        return (r.uniform(0.2, 0.9, (2, 4)), r.normal(size=(2, 4)), r.normal(size=2)), {}
    return (_c(r, 2, 4, scale=0.5), _c(r, 2, 4), _c(r, 2)), {}


def selective_scan(v):
    r = _rng(2)
    u, delta, z = r.normal(size=(1, 2, 4)), r.uniform(0.1, 0.6, (1, 2, 4)), r.normal(size=(1, 2, 4))
    D, bias, deltaA = r.normal(size=2), r.normal(size=2) * 0.1, r.uniform(0.1, 0.5, (1, 2, 4))
    if v == "float64":
        A = -r.uniform(0.5, 1.5, (2, 3))
        B, C = r.normal(size=(1, 1, 3, 4)), r.normal(size=(2, 3))
        h0 = r.normal(size=(1, 2, 3))
        return (u, delta, A, B, C, D, z, bias, True, True, "zoh", deltaA), {"h0": h0}
    A = _stable_c(r, 2, 3)
    B, C = _c(r, 2, 3), _c(r, 2, 3)
    return (u, delta, A, B, C, D, z, bias, True, True, "mamba", None), {"h0": _c(r, 1, 2, 3)}


def rglru_scan(v):
    r = _rng(3)
    u, delta = r.normal(size=(1, 2, 4)), r.uniform(0.3, 1.0, (1, 2, 4))
    return (u, delta, r.uniform(0.6, 0.95, (2, 1)), True), {"h0": r.normal(size=(1, 2, 1))}


def s7_scan(v):
    r = _rng(4)
    u, A = r.normal(size=(1, 2, 4)), r.normal(size=(1, 3, 4))
    B, C = r.normal(size=(1, 3, 2, 4)) * 0.5, r.normal(size=(1, 2, 3, 4))
    return (u, A, B, C, r.normal(size=(1, 3, 4)), True), {"h0": r.normal(size=(1, 3))}


def _s5(v, r):
    delta, deltaA = r.uniform(0.1, 0.5, (1, 3, 4)), r.uniform(0.1, 0.5, (1, 3, 4))
    if v == "float64":
        return (r.normal(size=(1, 2, 4)), delta, -r.uniform(0.3, 1.0, 3),
                r.normal(size=(3, 2)), r.normal(size=(2, 3)), deltaA)
    return (_c(r, 1, 2, 4), delta, _stable_c(r, 3), _c(r, 3, 2), _c(r, 2, 3), deltaA)


def simplified_scan(v):
    r = _rng(5)
    u, delta, A, B, C, deltaA = _s5(v, r)
    h0 = r.normal(size=(1, 3)) if v == "float64" else _c(r, 1, 3)
    return (u, delta, A, B, C, deltaA, True, "zoh"), {"h0": h0}


def s5_inner(v):
    r = _rng(6)
    u, delta, A, B, C, deltaA = _s5(v, r)
    return (u, delta, A, B, C, r.normal(size=2), deltaA, "bilinear", True), {}


def cauchy(v):
    r = _rng(7)
    z = np.linspace(0.5, 2.0, 4) if v == "float64" else 1j * np.linspace(0.0, 2.0, 4) + 0.1
    return (_c(r, 2, 3), z, _stable_c(r, 3)), {}


def log_vandermonde(v):
    r = _rng(8)
    return (_c(r, 2, 3), _stable_c(r, 2, 3) * 0.3, 5), {}


def log_vandermonde_transpose(v):
    r = _rng(9)
    u = r.normal(size=(2, 5)) if v == "float64" else _c(r, 2, 5)
    return (u, _c(r, 2, 3), _stable_c(r, 2, 3) * 0.3, 5), {}


def power(v):
    r = _rng(10)
    if v == "float64":
        return (3, 0.5 * r.normal(size=(2, 3, 3)), r.normal(size=(2, 3, 4))), {}
    return (3, _c(r, 2, 3, 3, scale=0.4), _c(r, 2, 3, 4)), {}


def discretize(v):
    r = _rng(11)
    A = -r.uniform(0.3, 1.0, 3) if v == "float64" else _stable_c(r, 3)
    return (A, r.uniform(0.1, 0.5, (2, 3)), "zoh"), {}


def fft_conv(v):
    r = _rng(12)
    if v == "float64":
        return (r.normal(size=(1, 4, 2)), r.normal(size=(4, 3, 2))), {}
    return (_c(r, 1, 4, 2), _c(r, 4, 3, 2)), {}


def fft_conv_channels(v):
    r = _rng(13)
    if v == "float64":
        return (r.normal(size=(1, 2, 5)), r.normal(size=(2, 5))), {}
    return (_c(r, 1, 2, 5), _c(r, 2, 5)), {}


def ssm_conv(v):
    r = _rng(14)
    lam = np.exp(_stable_c(r, 3) * 0.3)
    K = lam[:, None] ** np.arange(4)
    if v == "float64":
        return (r.normal(size=(1, 4, 2)), K.real, r.normal(size=(3, 2)), r.normal(size=(2, 3))), {}
    return (r.normal(size=(1, 4, 2)), K, _c(r, 3, 2), _c(r, 2, 3)), {}


def causal_conv1d(v):
    r = _rng(15)
    x, w, b = r.normal(size=(1, 2, 5)), r.normal(size=(2, 3)), r.normal(size=2)
    return (x, w, b, "silu"), {"initial_states": r.normal(size=(1, 2, 2)),
                              "return_final_states": True}


def dplr_kernel(v):
    r = _rng(16)
    A = _stable_c(r, 1, 2)
    B, C, P = _c(r, 1, 2), _c(r, 1, 1, 2), _c(r, 1, 1, 2, scale=0.3)
    if v == "float64":
        B = r.normal(size=(1, 2))
    return (A, B, C, P, r.uniform(0.05, 0.2, 1), 8), {"state": _c(r, 2, 1, 2)}


def s4d_kernel(v):
    r = _rng(17)
    A = _stable_c(r, 1, 2)
    if v == "float64":
        B, C = r.normal(size=(1, 2)), r.normal(size=(1, 1, 2))
    else:
        B, C = _c(r, 1, 2), _c(r, 1, 1, 2)
    return (A, B, C, r.uniform(0.05, 0.2, 1), 6), {"disc": "zoh", "state": _c(r, 2, 1, 2)}


def s4d_forward_state(v):
    r = _rng(18)
    dA = np.exp(_stable_c(r, 1, 2) * 0.2)
    return (r.normal(size=(2, 1, 5)), _c(r, 2, 1, 2), dA, _c(r, 1, 2)), {}


REAL_ONLY = {"rglru_scan", "s7_scan", "causal_conv1d"}
COMPLEX_ONLY = {"log_vandermonde"}  # v and x are complex by definition
OPS = [
    "diag_scan", "selective_scan", "rglru_scan", "s7_scan", "simplified_scan", "s5_inner",
    "cauchy", "log_vandermonde", "log_vandermonde_transpose", "power", "discretize", "fft_conv",
    "fft_conv_channels", "ssm_conv", "causal_conv1d", "dplr_kernel", "s4d_kernel",
    "s4d_forward_state",
]


def variants():
    """(op, variant) pairs: every op in float64, every op that has complex parameters in complex."""
    return [(op, v) for op in OPS for v in ("float64", "complex128")
            if not (v == "complex128" and op in REAL_ONLY)
            and not (v == "float64" and op in COMPLEX_ONLY)]


def case(op, variant):
    return globals()[op](variant)
