"""Every op's discretization is the public one: the A_bar and gamma_bar implied by a one-step
call of each op equal ``lrnnx_array.discretization.<method>``, for every method it supports, at
ordinary and at tiny steps (dt*A down to 1e-8) and at an eigenvalue near 0 (so a copy that drifts
from the numerics layer, e.g. a naive (e^x - 1)/A, fails here).

How each op reveals (A_bar, gamma_bar), one state per parameter case, B = C = 1:
* scans: with h0 = 1 and u = 0 the one output is A_bar; with h0 = 0 and u = 1 it is gamma_bar;
* state updates: the new state from state = 1, x = 0 and from state = 0, x = 1;
* s4d_kernel: k_l = 2 Re(C gamma_bar A_bar^l) with C = 1 and C = -i gives gamma_bar (l = 0) and
  gamma_bar A_bar (l = 1).
"""

import numpy as np
import pytest

from lrnnx_array import discretization as D
from lrnnx_array import testing
from lrnnx_array.ops import (
    s4d_kernel,
    selective_scan,
    selective_state_update,
    simplified_scan,
    simplified_state_update,
)

testing.add_override("numerics_implied_kernel", 10,
                     "s4d's A_bar is recovered as (gamma_bar A_bar) / gamma_bar from two kernel "
                     "taps: the division doubles the rounding of each")

# (A, dt) cases: ordinary, tiny dt*A (1e-8 .. 1e-4), an eigenvalue near 0 and exactly 0.
_DT = np.array([0.1, 1e-8, 1e-6, 1e-4, 0.5, 1.0, 0.3])
_A_CPLX = np.array([-0.5 + 1j, -1.0 + 2j, -0.3 - 0.7j, -1.0 + 0j, -1e-6 + 0j, -1e-6 + 1e-6j, 0j])
_A_REAL = np.array([-0.5, -1.0, -0.3, -2.0, -1e-6, -1e-7, 0.0])
_A_RGLRU = np.array([0.9, 0.999, 0.5, 1 - 1e-7, 0.25, 1.0, 0.7])
_A_S7 = np.zeros(7)
_DT_S7 = np.array([1.5, -0.2, 1e-8, 3.0, 0.7, 0.0, -2.0])  # s7's "delta" is the raw a_t


def _case(method, cplx):
    if method == "rglru":
        return _A_RGLRU, _DT
    if method == "s7":
        return _A_S7, _DT_S7
    return (_A_CPLX if cplx else _A_REAL), _DT


def _want(method, A, dt):
    fn = getattr(D, "async_" if method == "async" else method)
    return fn(A, dt)


def _compare(got, A, dt, method, override=None):
    want = _want(method, A, dt)
    for g, w, name in zip(got, want, ("A_bar", "gamma_bar")):
        testing.assert_close(np.asarray(g, dtype=w.dtype), w, override=override,
                             err_msg=f"{method} {name}")


@pytest.mark.parametrize("method", ["mamba", "zoh", "bilinear", "dirac", "s7", "rglru"])
def test_selective_scan(method):
    A, dt = _case(method, False)
    K = A.size
    Ac, one = A[:, None], np.ones((K, 1))
    d3 = dt[None, :, None]

    def run(u, h0):
        return selective_scan(u, d3, Ac, one, one, discretization=method,
                              h0=h0[None, :, None])[0, :, 0]

    Abar = run(np.zeros((1, K, 1)), np.ones(K))
    gbar = run(np.ones((1, K, 1)), np.zeros(K))
    _compare((Abar, gbar), A, dt, method)


@pytest.mark.parametrize("method", ["zoh", "bilinear", "dirac", "mamba", "rglru", "s7"])
def test_selective_state_update(method):
    A, dt = _case(method, False)
    K = A.size
    one = np.ones((1, 1))

    def run(x, s):
        state = s[None, :, None].copy()
        selective_state_update(state, x[None, :], dt[None, :], A[:, None], one, one,
                               discretization=method)
        return state[0, :, 0]

    _compare((run(np.zeros(K), np.ones(K)), run(np.ones(K), np.zeros(K))), A, dt, method)


@pytest.mark.parametrize("method", ["bilinear", "zoh", "dirac"])
@pytest.mark.parametrize("impl", ["generic", "reference"])
def test_simplified_scan(method, impl):
    A, dt = _case(method, True)
    eye = np.eye(A.size, dtype=complex)

    def run(u, h0):
        return simplified_scan(u, dt, A, eye, eye, discretization=method, h0=h0[None, :],
                               impl=impl)[0, :, 0]

    K = A.size
    Abar = run(np.zeros((1, K, 1)), np.ones(K, complex))
    gbar = run(np.ones((1, K, 1)), np.zeros(K, complex))
    _compare((Abar, gbar), A, dt, method)


@pytest.mark.parametrize("method", ["bilinear", "zoh", "dirac"])
@pytest.mark.parametrize("impl", ["generic", "reference"])
def test_simplified_state_update(method, impl):
    A, dt = _case(method, True)
    K = A.size
    eye = np.eye(K, dtype=complex)

    def run(x, s):
        state = s[None, :].astype(complex)
        simplified_state_update(state, x[None, :], dt, A, eye, eye, discretization=method,
                                impl=impl)
        return state[0]

    _compare((run(np.zeros(K), np.ones(K)), run(np.ones(K), np.zeros(K))), A, dt, method)


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_s4d_kernel(method):
    A, dt = _case(method, True)
    A, dt = A[:-1], dt[:-1]  # log_vandermonde takes log(A_bar): A = 0 with dt... is fine, but
    # the kernel's contract asks for Re A < 0 modes; the A = 0 limit is covered by the scans.
    K = A.size
    B = np.ones((K, 1), complex)

    def taps(c):
        return s4d_kernel(A[:, None], B, np.full((1, K, 1), c), dt, 2, disc=method).k[0]

    k1, ki = taps(1.0 + 0j), taps(-1j)
    gbar = (k1[:, 0] + 1j * ki[:, 0]) / 2
    gA = (k1[:, 1] + 1j * ki[:, 1]) / 2
    _compare((gA / gbar, gbar), A, dt, method, override="numerics_implied_kernel")
