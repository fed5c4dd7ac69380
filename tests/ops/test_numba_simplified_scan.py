"""The numba S5 scan (simplified_scan, s5_inner) against the float64 oracle: every
discretization, complex64/complex128 (and real inputs), every step layout, deltaA, h0 and the last
state's cotangent; forward and VJP; L = 1, prime L, zero-size dimensions."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import cast, close_all, needs_numba

from lrnnx_array import testing
from lrnnx_array._ops.simplified_scan._ref import (
    s5_inner_ref,
    s5_inner_vjp_ref,
    simplified_scan_ref,
    simplified_scan_vjp_ref,
)
from lrnnx_array.ops import s5_inner, s5_inner_vjp, simplified_scan, simplified_scan_vjp

pytestmark = needs_numba
testing.add_override("s5_numba_out", 2, "y sums P length-L complex recurrences: float32 rounding "
                     "grows with P and L (as for the generic path)")
testing.add_override("s5_numba_grads", 4, "gradients add a reverse recurrence and sums over "
                     "batch and time to the forward's rounding")
SCAN_NAMES = ("du", "ddelta", "dA", "dB", "dC", "ddeltaA", "dh0")
INNER_NAMES = ("du", "ddelta", "dA", "dB", "dC", "dD", "ddeltaA", "dh0")
DISCS = ("bilinear", "zoh", "dirac")


def _steps(rng, layout, Bsz, P, L):
    shape = {"P": (P,), "BL": (Bsz, L), "BPL": (Bsz, P, L), "1P1": (1, P, 1), "()": ()}[layout]
    return rng.uniform(0.05, 0.8, shape)


def _case(dtype, layout="BPL", deltaA=False, h0=False, Bsz=2, H=3, P=4, L=7, seed=0):
    rng = np.random.default_rng(seed)
    cplx = dtype.startswith("complex")
    real = "float32" if dtype in ("float32", "complex64") else "float64"

    def c(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    u = c(Bsz, H, L) if cplx else rng.standard_normal((Bsz, H, L))
    kw = dict(u=cast(u, dtype), delta=cast(_steps(rng, layout, Bsz, P, L), real),
              A=cast(-rng.uniform(0.1, 1, P) + 1j * rng.uniform(-2, 2, P), dtype),
              B=cast(c(P, H) / 2, dtype), C=cast(c(H, P) / 2, dtype))
    if deltaA:
        kw["deltaA"] = cast(_steps(rng, layout, Bsz, P, L), real)
    if h0:
        kw["h0"] = cast(c(Bsz, P), dtype)
    dout = cast(c(Bsz, H, L), dtype)
    dlast = cast(c(Bsz, P), dtype) if h0 else None
    return kw, dout, dlast


def _check_scan(disc, dtype, kw, dout, dlast):
    y, last = simplified_scan(**kw, return_last_state=True, discretization=disc, impl="numba")
    ry, rlast = simplified_scan_ref(**kw, return_last_state=True, discretization=disc)
    close_all(["y", "last"], [y, last], [ry, rlast], dtype, override="s5_numba_out")
    g = simplified_scan_vjp(dout, **kw, discretization=disc, dlast_state=dlast, impl="numba")
    r = simplified_scan_vjp_ref(dout, **kw, discretization=disc, dlast_state=dlast)
    close_all(SCAN_NAMES, g, r, dtype, override="s5_numba_grads", normwise=True)


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dtype", ["float32", "complex64", "complex128"])
@pytest.mark.parametrize("layout", ["P", "BL", "BPL", "1P1"])
@pytest.mark.parametrize("extras", [False, True])
def test_simplified_scan_matches_oracle(disc, dtype, layout, extras):
    kw, dout, dlast = _case(dtype, layout, deltaA=extras, h0=extras)
    _check_scan(disc, dtype, kw, dout, dlast)


@pytest.mark.parametrize("L", [1, 2, 131])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_odd_lengths(L, dtype):
    kw, dout, dlast = _case(dtype, "BPL", deltaA=True, h0=True, Bsz=1, H=2, P=3, L=L)
    _check_scan("zoh", dtype, kw, dout, dlast)
    kw, dout, dlast = _case(dtype, "P", h0=True, Bsz=1, H=2, P=3, L=L)
    _check_scan("bilinear", dtype, kw, dout, dlast)


def test_scalar_step_and_tiny_zoh_steps():
    kw, dout, _ = _case("complex128", "()", L=5)
    _check_scan("zoh", "complex128", kw, dout, None)
    # dt*A ~ 1e-9: (e^x - 1)/x by the closed form would lose every digit.
    kw["delta"] = np.full((2, 4, 5), 1e-9)
    _check_scan("zoh", "complex128", kw, dout, None)


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("conj_sym", [True, False])
@pytest.mark.parametrize("layout", ["P", "BPL"])
def test_s5_inner_matches_oracle(disc, dtype, conj_sym, layout):
    kw, _, _ = _case(dtype, layout, deltaA=layout == "BPL", h0=layout == "P")
    rng = np.random.default_rng(1)
    D = cast(rng.standard_normal(kw["B"].shape[1]), dtype)
    dout = cast(rng.standard_normal(kw["u"].shape), dtype)
    out = s5_inner(**kw, D=D, discretization=disc, conj_sym=conj_sym, impl="numba")
    close_all(["out"], [out], [s5_inner_ref(**kw, D=D, discretization=disc, conj_sym=conj_sym)],
              dtype, override="s5_numba_out")
    g = s5_inner_vjp(dout, **kw, D=D, discretization=disc, conj_sym=conj_sym, impl="numba")
    r = s5_inner_vjp_ref(dout, **kw, D=D, discretization=disc, conj_sym=conj_sym)
    close_all(INNER_NAMES, g, r, dtype, override="s5_numba_grads", normwise=True)


@pytest.mark.parametrize("dims", [dict(Bsz=0), dict(H=0), dict(P=0), dict(L=0)])
def test_zero_size_dimensions(dims):
    kw, dout, dlast = _case("complex64", "P", h0=True, **dims)
    y, last = simplified_scan(**kw, return_last_state=True, impl="numba")
    assert y.shape == kw["u"].shape and last.shape == kw["h0"].shape
    g = simplified_scan_vjp(dout, **kw, dlast_state=dlast, impl="numba")
    for grad, name in zip(g, SCAN_NAMES):
        primal = {"ddelta": "delta", "ddeltaA": "deltaA"}.get(name, name[1:])
        assert grad is None or grad.shape == np.shape(kw[primal]), name
    if "L" in dims:  # no steps: the last state is h0, its cotangent passes to dh0
        np.testing.assert_array_equal(g.dh0, dlast)
        np.testing.assert_array_equal(last, kw["h0"])
        return
    r = simplified_scan_vjp_ref(dout, **kw, dlast_state=dlast)
    close_all(SCAN_NAMES, g, r, "complex64")


def test_auto_picks_numba_for_numpy():
    import array_api_compat.numpy as xp

    from lrnnx_array._ops.simplified_scan._api import INNER_SPEC, SPEC

    assert SPEC.resolve("auto", xp, np.complex64) == "numba"
    assert INNER_SPEC.resolve("auto", xp, np.complex128) == "numba"
