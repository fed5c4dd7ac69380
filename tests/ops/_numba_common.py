"""Shared by tests/ops/test_numba_*.py: skip without numba, compare an impl with the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops._shared import numba_support

needs_numba = pytest.mark.skipif(not numba_support.available(),
                                 reason=f"numba tier unavailable: "
                                        f"{numba_support.unavailable_reason()}")

REAL = ("float32", "float64")
COMPLEX = ("complex64", "complex128")


def rounded(x, dtype):
    """``x`` rounded to ``dtype``'s precision (its kind kept), back in float64/complex128: both
    the numba run and the float64 oracle then see the same numbers."""
    if x is None:
        return None
    x = np.asarray(x)
    low = {"float32": np.float32, "complex64": np.complex64}.get(dtype, np.float64)
    if np.iscomplexobj(x):
        low = np.complex64 if low is np.float32 or low is np.complex64 else np.complex128
    elif low is np.complex64:
        low = np.float32
    return x.astype(low)


def cast(x, dtype):
    """The array the op gets: ``rounded`` in its low precision."""
    return None if x is None else rounded(x, dtype)


def want(x):
    return None if x is None else np.asarray(x, dtype=np.complex128 if np.iscomplexobj(x)
                                             else np.float64)


def close_all(names, got, ref, dtype, override=None, normwise=False):
    """Each result against the float64 oracle at the table's tolerance for ``dtype``'s
    precision (the result's kind), naming the result on failure."""
    for name, g, r in zip(names, got, ref):
        if r is None:
            assert g is None, f"{name}: expected None, got an array"
            continue
        r = np.asarray(r)
        low = np.dtype(g.dtype)
        testing.assert_close(g, r.astype(low), override=override, normwise=normwise,
                             err_msg=name)


# The fused S5 forms' named tolerances (test_numba_simplified_fused*.py).
testing.add_override("s5_fused_out", 2, "y sums P length-L complex recurrences: float32 "
                     "rounding grows with P and L (as for the BLAS form)")
testing.add_override("s5_fused_grads", 4, "gradients add a reverse recurrence and sums over "
                     "batch and time to the forward's rounding (as for the BLAS form)")


# ---- the S5 scan's test cases (the fused, long-row and blocked test files) -----------------------

S5_LAYOUTS = {"P": lambda B, P, L: (P,), "BL": lambda B, P, L: (B, L),
              "BPL": lambda B, P, L: (B, P, L), "1P1": lambda B, P, L: (1, P, 1),
              "()": lambda B, P, L: ()}


def s5_case(dtype, layout="BPL", deltaA=False, h0=False, Bsz=2, H=3, P=70, L=41, seed=0,
            real_u=False, a_re=(0.1, 1)):
    """simplified_scan's arrays at ``dtype``: steps in ``layout`` (an ``S5_LAYOUTS`` key), A with
    real parts -uniform(*a_re), optional deltaA and h0, u real where ``real_u`` or real dtype."""
    rng = np.random.default_rng(seed)
    real = "float32" if dtype in ("float32", "complex64") else "float64"

    def c(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    u = rng.standard_normal((Bsz, H, L)) if real_u or not dtype.startswith("complex") else c(
        Bsz, H, L)
    shape = S5_LAYOUTS[layout](Bsz, P, L)
    kw = dict(u=cast(u, dtype), delta=cast(rng.uniform(0.05, 0.8, shape), real),
              A=cast(-rng.uniform(*a_re, P) + 1j * rng.uniform(-2, 2, P), dtype),
              B=cast(c(P, H) / 2, dtype), C=cast(c(H, P) / 2, dtype))
    if deltaA:
        kw["deltaA"] = cast(rng.uniform(0.05, 0.8, shape), real)
    if h0:
        kw["h0"] = cast(c(Bsz, P), dtype)
    return kw
