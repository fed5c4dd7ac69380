"""power(L, A, v): numpy matrix_power oracle for the reference, every impl vs reference; the
VJP: reference reverse loops against finite differences, every impl against the reference."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops.power._ref import power_ref, power_vjp_ref
from lrnnx_array.ops import PowerGrads, power, power_vjp

# Named tolerances (factors of testing.TOLERANCES); each at least as strict as the literal it
# replaced. Factors below 1 tighten the table where both sides are float64.
testing.add_override("power_f64_products", 1e-3,
                     "float64 vs float64: matrix_power / the recurrence / the reference multiply "
                     "the same <= 16 well-conditioned 3x3-4x4 matrices in another order")
testing.add_override("power_f64_vjp", 0.1,
                     "float64 VJPs (generic vs reference, partial cotangents summed): the same "
                     "reverse-loop sums in another order, O(1) entries")
testing.add_override("power_matrix_products", 20.0,
                     "A^L by repeated squaring against the sequential product: up to 2 log2(L) + L "
                     "rounded 5x5 products, each adding ~N ulp")
testing.add_override("power_vjp_normwise", 18.0,
                     "VJP entries are sums over L of products of powers: small entries are "
                     "cancellations, so the bound is normwise (18 x (atol + rtol max|w|) is the "
                     "old 20 rtol max(1, max|w|) or stricter)")


def _A(rng, shape, N, cplx):
    A = rng.standard_normal(shape + (N, N)) / np.sqrt(N) * 0.9
    return A + (1j * rng.standard_normal(A.shape) / np.sqrt(N) * 0.3 if cplx else 0)


@pytest.mark.parametrize("L", [0, 1, 2, 7, 16])
def test_ref_matches_matrix_power(rng, L):
    A = _A(rng, (3,), 4, True)
    want = np.linalg.matrix_power(A, L)
    testing.assert_close(power_ref(L, A), want, override="power_f64_products")


def test_ref_sum_is_the_state_after_the_reversed_sequence(rng):
    # x_{t+1} = A x_t + b_t from 0: x_L = sum_i A^i b_{L-1-i} = power(L, A, flip(b))[1].
    A, b = _A(rng, (), 3, False), rng.standard_normal((3, 9))
    x = np.zeros(3)
    for t in range(9):
        x = A @ x + b[:, t]
    testing.assert_close(power_ref(9, A, b[:, ::-1])[1], x, override="power_f64_products")


@pytest.mark.parametrize("L,Lv", [(0, 1), (1, 1), (5, 5), (8, 8), (13, 13), (6, 11)])
def test_impl_matches_ref(backend_impl, dtype, rng, L, Lv):
    xp, impl = backend_impl
    cplx = dtype.startswith("complex")
    A = _A(rng, (2,), 5, cplx)
    v = rng.standard_normal((3, 1, 5, Lv))
    Ax, vx = testing.from_numpy(xp, A, dtype), testing.from_numpy(xp, v, dtype)
    AL, s = power(L, Ax, vx, impl=impl)
    wAL, ws = power_ref(L, A.astype(dtype), v.astype(dtype))
    testing.assert_close(AL, testing.from_numpy(xp, wAL, dtype), override="power_matrix_products")
    testing.assert_close(s, testing.from_numpy(xp, ws, dtype), override="power_matrix_products")
    assert tuple(s.shape) == (3, 2, 5)
    # without v: against the oracle too (not against the call with v: the same code path)
    testing.assert_close(power(L, Ax, impl=impl), testing.from_numpy(xp, wAL, dtype),
                         override="power_matrix_products")


def test_mixed_real_matrix_complex_v(rng):
    A = _A(rng, (), 3, False)
    v = rng.standard_normal((3, 4)) + 1j
    AL, s = power(4, A, v)
    assert AL.dtype == np.float64 and s.dtype == np.complex128
    testing.assert_close(s, power_ref(4, A, v)[1], override="power_f64_products")


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        power(2, np.ones((2, 3)))
    with pytest.raises(ValueError, match="L must be >= 0"):
        power(-1, np.eye(2))
    with pytest.raises(ValueError, match="v must have shape"):
        power(2, np.eye(2), np.ones((3, 4)))
    with pytest.raises(TypeError, match="A must have a floating dtype"):
        power(2, np.eye(2, dtype=np.int64))
    with pytest.raises(ValueError, match="impl='cuda'"):
        power(2, np.eye(2), impl="cuda")


# ---- VJP ------------------------------------------------------------------------------------


def _v(rng, shape, cplx):
    return rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if cplx else 0)


KINDS = [(False, False), (False, True), (True, False), (True, True)]  # (A complex, v complex)


@pytest.mark.parametrize("L", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("cA,cv", KINDS)
def test_ref_vjp_finite_differences(rng, L, cA, cv):
    A = _A(rng, (2, 1), 3, cA)
    testing.check_vjp(lambda A: power_ref(L, A), lambda g, A: power_vjp_ref(g, L, A)[:1], (A,))
    for Lv in (1, 6, 7):
        v = _v(rng, (4, 3, Lv), cv)
        testing.check_vjp(lambda A, v: power_ref(L, A, v),
                          lambda g, A, v: power_vjp_ref(g, L, A, v), (A, v))


@pytest.mark.parametrize("cA,cv", KINDS)
def test_generic_vjp_finite_differences(rng, cA, cv):
    """The fast path against finite differences too (not only through the reference)."""
    A, v = _A(rng, (2,), 4, cA), _v(rng, (3, 1, 4, 11), cv)
    testing.check_vjp(lambda A, v: power(13, A, v), lambda g, A, v: power_vjp(g, 13, A, v),
                      (A, v))


@pytest.mark.parametrize("L,Lv", [(0, 1), (1, 1), (5, 2), (8, 8), (13, 13), (6, 11), (16, 0)])
def test_vjp_impl_matches_ref(backend_impl, dtype, rng, L, Lv):
    xp, impl = backend_impl
    cplx = dtype.startswith("complex")
    A, v = _A(rng, (2,), 5, cplx), _v(rng, (3, 1, 5, Lv), cplx)
    gAL, gs = _v(rng, A.shape, cplx), _v(rng, (3, 2, 5), cplx)
    on = (lambda a: testing.from_numpy(xp, a, dtype))
    got = power_vjp((on(gAL), on(gs)), L, on(A), on(v), impl=impl)
    want = power_vjp_ref((gAL, gs), L, A.astype(dtype), v.astype(dtype))
    assert isinstance(got, PowerGrads)
    for name, g, w in zip(got._fields, got, want):
        testing.assert_close(g, on(w), override="power_vjp_normwise", normwise=True, err_msg=name)
    got = power_vjp(on(gAL), L, on(A), impl=impl)
    w = power_vjp_ref(gAL, L, A.astype(dtype))[0]
    assert got.dv is None
    testing.assert_close(got.dA, on(w), override="power_vjp_normwise", normwise=True)


def test_vjp_reference_impl_and_partial_cotangents(rng):
    A, v = _A(rng, (2,), 3, True), _v(rng, (2, 3, 5), True)
    gAL, gs = _v(rng, A.shape, True), _v(rng, (2, 3), True)
    full = power_vjp((gAL, gs), 6, A, v)
    testing.assert_close(full.dA, power_vjp((gAL, gs), 6, A, v, impl="reference").dA,
                         override="power_f64_vjp")
    only_AL = power_vjp((gAL, None), 6, A, v)
    only_s = power_vjp((None, gs), 6, A, v)
    testing.assert_close(only_AL.dA + only_s.dA, full.dA, override="power_f64_vjp")
    testing.assert_close(only_s.dv, full.dv, override="power_f64_vjp")
    assert not np.any(only_AL.dv)
    none = power_vjp((None, None), 6, A, v)
    assert none.dA.shape == A.shape and not np.any(none.dA) and not np.any(none.dv)
    # A^0 = I does not depend on A.
    assert not np.any(power_vjp(gAL, 0, A).dA)


def test_vjp_real_inputs_get_real_gradients(rng):
    A, v = _A(rng, (), 3, False), _v(rng, (3, 4), True)
    g = power_vjp((rng.standard_normal((3, 3)), _v(rng, (3,), True)), 4, A, v)
    assert g.dA.dtype == np.float64 and g.dv.dtype == np.complex128
    g32 = power_vjp(np.ones((3, 3), np.float32), 4, A.astype(np.float32))
    assert g32.dA.dtype == np.float32


def test_vjp_rejects_bad_cotangents(rng):
    A, v = _A(rng, (2,), 3, False), _v(rng, (2, 3, 4), False)
    with pytest.raises(TypeError, match=r"dout must be one array .* when v is None"):
        power_vjp((np.ones((2, 3, 3)), None), 3, A)
    with pytest.raises(TypeError, match=r"dout must be the pair \(dAL, ds\)"):
        power_vjp(np.ones((2, 3, 3)), 3, A, v)
    with pytest.raises(TypeError, match=r"dout must be the pair"):
        power_vjp((np.ones((2, 3, 3)),), 3, A, v)
    with pytest.raises(ValueError, match=r"dAL with shape \(2, 4, 4\) does not broadcast"):
        power_vjp((np.ones((2, 4, 4)), None), 3, A, v)
    with pytest.raises(ValueError, match=r"ds with shape \(3, 3\) does not broadcast"):
        power_vjp((None, np.ones((3, 3))), 3, A, v)
    with pytest.raises(ValueError, match=r"dout with shape|dAL with shape"):
        power_vjp(np.ones((3, 3, 3)), 3, A)
    with pytest.raises(TypeError, match="dAL must be real floating"):
        power_vjp(np.ones((2, 3, 3), complex), 3, A)
    with pytest.raises(TypeError, match="ds must be real floating"):
        power_vjp((None, np.ones((2, 3), complex)), 3, A, v)
    with pytest.raises(TypeError, match="dAL must have a floating dtype"):
        power_vjp(np.ones((2, 3, 3), np.int64), 3, A)
    with pytest.raises(ValueError, match="L must be >= 0"):
        power_vjp(np.ones((2, 3, 3)), -2, A)
    with pytest.raises(ValueError, match="impl='cuda'"):
        power_vjp(np.ones((2, 3, 3)), 3, A, impl="cuda")
