"""The vectorisable numba helpers (numba_math) against NumPy / mpmath, counted in ulp.

Each helper must be within a few ulp of the correctly rounded value over the ranges the scans
use and keep the edge cases: 0 and -0, +-inf, NaN, underflow to 0 (through the subnormals),
overflow to inf, arguments of sin/cos large enough to need the scalar pass.
"""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import REAL, needs_numba

from lrnnx_array._ops._shared import numba_math as nm
from lrnnx_array._ops._shared import numba_support as nbs

pytestmark = needs_numba
ULP = 4  # the budget of every helper (measured: exp 1, expm1 2, sin/cos 1.5, softplus 4)


def ulp_error(got, want, dtype):
    """max |got - want| in units of the last place of want rounded to dtype (the smallest
    subnormal's spacing at the bottom); exact matches, NaN vs NaN and equal infs count 0."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        w = want.astype(dtype)
        same = (got == w) | (np.isnan(got) & np.isnan(want))
        space = np.maximum(np.spacing(np.abs(w)).astype(np.float64),
                           np.finfo(dtype).smallest_subnormal)
        err = np.where(same, 0.0, np.abs(got - want) / space)
    return float(np.nan_to_num(err, nan=np.inf).max())


@pytest.fixture(scope="module")
def k():
    nb = nbs.numba()
    H = nm.helpers()
    exp, expm1_exp, softplus, sigmoid = (H[n] for n in ("exp", "expm1_exp", "softplus",
                                                         "sigmoid"))
    vsincos, vcexp = H["vsincos"], H["vcexp"]
    jit = nb.njit(error_model="numpy")

    @jit
    def k_exp(x, o):
        for j in range(x.shape[0]):
            o[j] = exp(x[j])

    @jit
    def k_expm1(x, m, e):
        for j in range(x.shape[0]):
            m[j], e[j] = expm1_exp(x[j])

    @jit
    def k_softplus(x, o):
        for j in range(x.shape[0]):
            o[j] = softplus(x[j])

    @jit
    def k_sigmoid(x, o):
        for j in range(x.shape[0]):
            o[j] = sigmoid(x[j])

    @jit
    def k_sincos(x, s, c):
        vsincos(x, s, c, x.shape[0])

    @jit
    def k_cexp(xr, xi, er, ei):
        vcexp(xr, xi, er, ei, xr.shape[0])

    return dict(exp=k_exp, expm1=k_expm1, softplus=k_softplus, sigmoid=k_sigmoid,
                sincos=k_sincos, cexp=k_cexp)


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1e-300, 5e-324]


def _exp_args(dtype, rng):
    lo, hi = (-110.0, 90.0) if dtype == "float32" else (-750.0, 712.0)
    return np.concatenate([rng.uniform(lo, hi, 20000), rng.uniform(-1, 1, 5000),
                           np.linspace(-0.4, 0.4, 801), SPECIAL]).astype(dtype)


@pytest.mark.parametrize("dtype", REAL)
def test_exp_and_expm1_within_a_few_ulp(k, dtype):
    x = _exp_args(dtype, np.random.default_rng(0))
    x64 = x.astype(np.float64)
    e, m, e2 = (np.empty_like(x) for _ in range(3))
    k["exp"](x, e)
    k["expm1"](x, m, e2)
    with np.errstate(over="ignore"):
        assert ulp_error(e, np.exp(x64), dtype) <= ULP
        assert ulp_error(e2, np.exp(x64), dtype) <= ULP
        assert ulp_error(m, np.expm1(x64), dtype) <= ULP
    # the edges: underflow through the subnormals to 0, overflow to inf, NaN, signed zeros
    sp = np.array([-np.inf, np.inf, np.nan, 0.0], dtype)
    o, mo, eo = np.empty_like(sp), np.empty_like(sp), np.empty_like(sp)
    k["exp"](sp, o)
    k["expm1"](sp, mo, eo)
    assert o[0] == 0 and o[1] == np.inf and np.isnan(o[2]) and o[3] == 1
    assert mo[0] == -1 and mo[1] == np.inf and np.isnan(mo[2]) and mo[3] == 0
    sub = np.array([np.log(np.finfo(dtype).tiny) - 3], dtype)  # a subnormal result
    k["exp"](sub, o[:1])
    assert 0 < o[0] < np.finfo(dtype).tiny


def _mp_sincos(x):
    """sin, cos of float64 x to double precision by mpmath (NumPy's are ~1 ulp themselves)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.prec = 240
    s = [float(mpmath.sin(mpmath.mpf(float(v)))) if np.isfinite(v) else np.nan for v in x]
    c = [float(mpmath.cos(mpmath.mpf(float(v)))) if np.isfinite(v) else np.nan for v in x]
    return np.array(s), np.array(c)


@pytest.mark.parametrize("dtype", REAL)
def test_sincos_within_a_few_ulp_with_range_reduction(k, dtype):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-10, 10, 600), rng.uniform(-5000, 5000, 600),
                        rng.uniform(-1e6, 1e6, 100),  # beyond nm.LIM: the scalar pass
                        np.pi * np.arange(-40, 41) / 2, [nm.LIM, -nm.LIM, 3e5, 1e30],
                        SPECIAL]).astype(dtype)
    s, c = np.empty_like(x), np.empty_like(x)
    k["sincos"](x, s, c)
    ws, wc = _mp_sincos(x.astype(np.float64))
    assert ulp_error(s, ws, dtype) <= ULP
    assert ulp_error(c, wc, dtype) <= ULP
    zeros = np.array([0.0, -0.0], dtype)
    s0, c0 = np.empty_like(zeros), np.empty_like(zeros)
    k["sincos"](zeros, s0, c0)
    assert list(np.signbit(s0)) == [False, True] and list(c0) == [1, 1]


@pytest.mark.parametrize("dtype", REAL)
def test_complex_exp_matches_numpy(k, dtype):
    rng = np.random.default_rng(2)
    re = np.concatenate([rng.uniform(-30, 5, 4000), [-np.inf, 0.0, np.inf, -800.0, 0.5]])
    im = np.concatenate([rng.uniform(-300, 300, 4000), [1.0, 0.0, 0.0, 2.0, 1e6]])
    re, im = re.astype(dtype), im.astype(dtype)
    er, ei = np.empty_like(re), np.empty_like(re)
    k["cexp"](re, im, er, ei)
    want = np.exp(re.astype(np.float64) + 1j * im.astype(np.float64))
    # per part: within a few ulp of |e^x| (a part near a zero of cos/sin is small in absolute
    # terms, not relatively: e^re times ~ulp of the reduced argument)
    mag = np.abs(want)
    for got, w in ((er, want.real), (ei, want.imag)):
        fin = (mag > np.finfo(dtype).tiny) & (mag < np.finfo(dtype).max)  # dtype's range
        err = np.abs(got[fin] - w[fin]) / (mag[fin] * np.finfo(dtype).eps)
        assert err.max() <= ULP
    with np.errstate(invalid="ignore"):
        assert er[-5] == 0 and ei[-5] == 0  # e^(-inf + i) = 0
        assert er[-2] == 0 and ei[-2] == 0  # underflow
        assert er[-3] == np.inf and ei[-3] == 0  # e^(inf + 0i) = inf + 0i (no inf * 0)


@pytest.mark.parametrize("dtype", REAL)
def test_softplus_and_sigmoid_within_a_few_ulp(k, dtype):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-40, 40, 20000), rng.uniform(-1e-3, 1e-3, 500),
                        [0.0, -0.0, 20.0, 20.000002, 21.0, 1e4, -1e4, -np.inf, np.inf, np.nan,
                         -100.0]]).astype(dtype)
    x64 = x.astype(np.float64)
    o = np.empty_like(x)
    k["softplus"](x, o)
    with np.errstate(over="ignore", invalid="ignore"):
        # torch's threshold rule: x itself above 20
        assert ulp_error(o, np.where(x64 > 20, x64, np.logaddexp(0, x64)), dtype) <= ULP
        k["sigmoid"](x, o)
        assert ulp_error(o, 1 / (1 + np.exp(-x64)), dtype) <= ULP
