"""Issue 9's bad-input classes and issue 8's dispatch counts for the S4/S4D families and their
building blocks (cauchy, log_vandermonde, power)."""

import numpy as np
import pytest

from lrnnx_array import _dispatch, testing
from lrnnx_array.ops import (
    cauchy,
    cauchy_vjp,
    dplr_dense,
    dplr_forward_state,
    dplr_kernel,
    dplr_kernel_vjp,
    dplr_step,
    dplr_step_setup,
    log_vandermonde,
    log_vandermonde_transpose,
    power,
    power_vjp,
    s4d_forward_state,
    s4d_forward_state_vjp,
    s4d_kernel,
    s4d_step,
    s4d_step_setup,
)

A = np.array([[-0.5 + 1j, -0.2 + 3j], [-0.3 + 1j, -0.1 + 2j]])
B = np.ones((2, 2), complex)
C = np.ones((1, 2, 2), complex)
P = 0.3 * np.ones((1, 2, 2), complex)
dt = np.array([0.1, 0.2])
c2 = np.ones(2, complex)

testing.add_override("s4_exact_f64", 1e-5,
                     "results that are one or three rounded float64 operations (x' = 0 x + B u, "
                     "1 + 0.5 + 0.25): within a few ulp")


def test_none_for_a_required_array_names_it():
    with pytest.raises(TypeError, match="v is required"):
        cauchy(None, c2, c2)
    with pytest.raises(TypeError, match="dout is required"):
        cauchy_vjp(None, c2, c2, c2)
    with pytest.raises(TypeError, match="x is required"):
        log_vandermonde(c2, None, 3)
    with pytest.raises(TypeError, match="A is required"):
        power(2, None)
    with pytest.raises(TypeError, match="dAL is required"):
        power_vjp(None, 2, np.eye(2))
    with pytest.raises(TypeError, match="C is required"):
        dplr_kernel(A, B, None, P, dt, 4)
    with pytest.raises(TypeError, match="dt is required"):
        s4d_kernel(A, B, C, None, 4)
    with pytest.raises(TypeError, match="state is required"):
        s4d_step(np.ones((1, 2)), None, *s4d_step_setup(A, B, C, dt))
    with pytest.raises(TypeError, match="state is required"):
        dplr_step(np.ones((1, 2)), None, dplr_step_setup(A, B, C, P, dt))
    with pytest.raises(TypeError, match="u is required"):
        log_vandermonde_transpose(None, c2, -c2, 3)


def test_flags_are_real_bools_and_accept_numpy_bools():
    g = cauchy_vjp(np.ones(2, complex), c2, np.array([0j, 1j]), -c2, need_dz=np.False_)
    assert g.dz is None
    with pytest.raises(TypeError, match="need_dz must be a bool"):
        cauchy_vjp(np.ones(2, complex), c2, np.array([0j, 1j]), -c2, need_dz="False")
    with pytest.raises(TypeError, match="C_is_tilde must be a bool"):
        dplr_kernel(A, B, C, P, dt, 4, C_is_tilde="False")
    with pytest.raises(TypeError, match="check_finite must be a bool"):
        s4d_kernel(A, B, C, dt, 4, check_finite="no")
    assert dplr_kernel(A, B, C, P, dt, 4, C_is_tilde=np.False_).k.shape == (1, 2, 4)


def test_numbers_must_be_numbers():
    for bad in ("2", None, True):
        with pytest.raises(TypeError, match="rate must be"):
            dplr_kernel(A, B, C, P, dt, 4, rate=bad)
    with pytest.raises(TypeError, match="L must be"):
        log_vandermonde(c2, -c2, "3")


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_integer_and_bool_arrays_raise_type_error(dtype):
    with pytest.raises(TypeError, match="z must have a floating dtype"):
        cauchy(c2, np.ones(3, dtype), c2)
    with pytest.raises(TypeError, match="A must have a floating dtype"):
        power(2, np.eye(2, dtype=dtype))
    setup = s4d_step_setup(A, B, C, dt)
    with pytest.raises(TypeError, match="state must have a floating dtype"):
        s4d_step(np.ones((1, 2)), np.zeros((1, 2, 2), dtype), *setup)
    with pytest.raises(TypeError, match="dA must have a floating dtype"):
        s4d_step(np.ones((1, 2)), np.zeros((1, 2, 2), complex), np.ones((2, 2), dtype),
                 *setup[1:])
    dsetup = dplr_step_setup(A, B, C, P, dt)
    with pytest.raises(TypeError, match="state must have a floating dtype"):
        dplr_step(np.ones((1, 2)), np.zeros((1, 2, 4), dtype), dsetup)
    with pytest.raises(TypeError, match="state must have a floating dtype"):
        s4d_forward_state(np.ones((1, 2, 3)), np.zeros((1, 2, 2), dtype), *setup[:2])


def test_mixed_precision_promotes_never_demotes():
    dA, dB = dplr_dense(A.astype(np.complex64), P.astype(np.complex64), B.astype(np.complex64),
                        dt.astype(np.float32))
    u = np.random.default_rng(0).normal(size=(1, 2, 5))  # float64
    assert dplr_forward_state(u, None, dA, dB).dtype == np.complex128
    setup = dplr_step_setup(A, B, C, P, dt)
    s64 = type(setup)(*(a.astype(np.complex64) for a in setup))
    y, s = dplr_step(np.ones((1, 2)), np.zeros((1, 2, 4), complex), s64)
    assert y.dtype == np.float64 and s.dtype == np.complex128
    dA4, dB4, _ = s4d_step_setup(A.astype(np.complex64), B, C, dt.astype(np.float32))
    assert s4d_forward_state(u, None, dA4.astype(np.complex64), dB4).dtype == np.complex128


def test_float16_computes_and_returns_float32():
    AL = power(3, 0.5 * np.eye(2, dtype=np.float16))
    assert AL.dtype == np.float32
    np.testing.assert_array_equal(AL, 0.125 * np.eye(2, dtype=np.float32))
    g = dplr_kernel_vjp((np.ones((1, 2, 4)), None), A, B, C, P, dt.astype(np.float16), 4)
    assert g.ddt.dtype == np.float64  # float16 dt: never float16, at the computation's precision


def test_zero_size_dims():
    assert cauchy(np.ones((0, 2), complex), c2, np.ones((0, 2), complex)).shape == (0, 2)
    assert cauchy(c2, np.ones(0, complex), c2).shape == (0,)
    assert log_vandermonde(np.ones((0, 2), complex), -c2, 3).shape == (0, 3)
    assert power(0, np.ones((0, 2, 2))).shape == (0, 2, 2)
    setup = s4d_step_setup(A, B, C, dt)
    x = np.ones((1, 2, 2), complex)
    np.testing.assert_array_equal(s4d_forward_state(np.ones((1, 2, 0)), x, *setup[:2]), x)
    # no steps: the new state is the state, so its cotangent passes straight through
    g = s4d_forward_state_vjp(2 * x, np.ones((1, 2, 0)), x, *setup[:2])
    assert g.du.shape == (1, 2, 0)
    np.testing.assert_array_equal(g.dstate, 2 * x)
    assert not np.any(g.ddA) and not np.any(g.ddB)
    with pytest.raises(ValueError, match="L must be >= 1"):
        dplr_kernel(A, B, C, P, dt, 0)


def test_decode_steps_validate_like_the_kernels():
    setup = s4d_step_setup(A, B, C, dt)
    with pytest.raises(ValueError, match=r"u must have shape \(batch, 2\)"):
        s4d_step(np.ones((1, 1)), np.zeros((1, 2, 2), complex), *setup)
    with pytest.raises(ValueError, match="dB must have shape"):
        s4d_step(np.ones((1, 2)), np.zeros((1, 2, 2), complex), setup[0], setup[1][:, :1],
                 setup[2])
    dsetup = dplr_step_setup(A, B, C, P, dt)
    with pytest.raises(ValueError, match=r"u must have shape \(batch, H\) with H=2"):
        dplr_step(np.ones((1, 1)), np.zeros((1, 2, 4), complex), dsetup)
    bad = type(dsetup)(dsetup.dA * np.nan, dsetup.dB, dsetup.dC)
    with pytest.raises(ValueError, match="dA must be finite"):
        dplr_step(np.ones((1, 2)), np.zeros((1, 2, 4), complex), bad)
    dplr_step(np.ones((1, 2)), np.zeros((1, 2, 4), complex), bad, check_finite=False)


def test_underflowed_abar_is_a_valid_setup():
    dA0, dB0, _ = s4d_step_setup(A, B, C, np.array([1e4, 1e4]))
    assert np.all(dA0 == 0)
    u = np.random.default_rng(1).normal(size=(1, 2, 3))
    got = s4d_forward_state(u, np.ones((1, 2, 2), complex), dA0, dB0)
    testing.assert_close(got, dB0 * u[..., -1, None], override="s4_exact_f64")  # x' = 0 x + B̄ u


def test_messages_use_public_names():
    # s4d_forward_state used to report its dA/dB as log_vandermonde's internal x / v.
    with pytest.raises(ValueError, match="dB must have shape"):
        s4d_forward_state(np.ones((1, 2, 3)), None, A, B[:, :1])
    with pytest.raises(TypeError, match="dA must have a floating dtype"):
        s4d_forward_state(np.ones((1, 2, 3)), None, np.ones((2, 2), int), B)
    with pytest.raises(ValueError, match="dB must be finite"):
        s4d_forward_state(np.ones((1, 2, 3)), None, A, B * np.nan)


def test_parameters_are_value_checked_only_under_check_finite():
    with pytest.raises(ValueError, match="v must be finite"):
        cauchy(np.array([np.nan + 0j]), np.array([0j, 1j]), np.array([-1 + 0j]))
    with pytest.raises(ValueError, match="A must be finite"):
        power(3, np.array([[np.nan, 0], [0, 1.0]]))
    out = power(3, np.array([[np.nan, 0], [0, 1.0]]), check_finite=False)
    assert np.isnan(out[0, 0])


def _count(monkeypatch, fn):
    """Calls of the namespace detection, impl resolution and finiteness check during fn()."""
    counts = {"namespace": 0, "resolve": 0, "finite": 0}

    def wrap(key, f):
        def inner(*a, **k):
            counts[key] += 1
            return f(*a, **k)
        return inner

    monkeypatch.setattr(_dispatch, "namespace_of", wrap("namespace", _dispatch.namespace_of))
    monkeypatch.setattr(_dispatch, "check_finite_array",
                        wrap("finite", _dispatch.check_finite_array))
    monkeypatch.setattr(_dispatch.OpSpec, "resolve", wrap("resolve", _dispatch.OpSpec.resolve))
    fn()
    return counts


@pytest.mark.parametrize("C_is_tilde", [False, True])
def test_dplr_kernel_vjp_detects_and_resolves_once(monkeypatch, C_is_tilde):
    kw = {"C_is_tilde": True, "l_kernel": 2} if C_is_tilde else {}
    state = np.ones((2, 2, 2), complex)
    counts = _count(monkeypatch, lambda: dplr_kernel_vjp(
        (np.ones((1, 2, 8)), np.ones((2, 1, 2, 8))), A, B, C, P, dt, 8, state=state, **kw))
    # one namespace, one resolution, one finiteness check per parameter (A, B, C, P, dt)
    assert counts == {"namespace": 1, "resolve": 1, "finite": 5}
    off = _count(monkeypatch, lambda: dplr_kernel_vjp(
        (np.ones((1, 2, 8)), None), A, B, C, P, dt, 8, check_finite=False, **kw))
    assert off == {"namespace": 1, "resolve": 1, "finite": 0}


def test_s4d_kernel_detects_and_resolves_once(monkeypatch):
    counts = _count(monkeypatch, lambda: s4d_kernel(A, B, C, dt, 6, state=np.ones((1, 2, 2))))
    assert counts == {"namespace": 1, "resolve": 1, "finite": 4}


def test_log_vandermonde_transpose_keeps_real_u():
    out = log_vandermonde_transpose(np.ones(3), np.array([1 + 0j]), np.array([np.log(0.5) + 0j]),
                                    3)
    testing.assert_close(out, np.array([1.75 + 0j]), override="s4_exact_f64")
