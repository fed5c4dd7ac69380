"""power(L, A, v): scipy/numpy matrix_power oracle for the reference, every impl vs reference."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.ops.power import power
from lrnnx_array.ops.power._ref import power_ref


def _A(rng, shape, N, cplx):
    A = rng.standard_normal(shape + (N, N)) / np.sqrt(N) * 0.9
    return A + (1j * rng.standard_normal(A.shape) / np.sqrt(N) * 0.3 if cplx else 0)


@pytest.mark.parametrize("L", [0, 1, 2, 7, 16])
def test_ref_matches_matrix_power(rng, L):
    A = _A(rng, (3,), 4, True)
    want = np.linalg.matrix_power(A, L)
    np.testing.assert_allclose(power_ref(L, A), want, rtol=1e-12, atol=1e-14)


def test_ref_sum_is_the_state_after_the_reversed_sequence(rng):
    # x_{t+1} = A x_t + b_t from 0: x_L = sum_i A^i b_{L-1-i} = power(L, A, flip(b))[1].
    A, b = _A(rng, (), 3, False), rng.standard_normal((3, 9))
    x = np.zeros(3)
    for t in range(9):
        x = A @ x + b[:, t]
    np.testing.assert_allclose(power_ref(9, A, b[:, ::-1])[1], x, rtol=1e-12)


@pytest.mark.parametrize("L,Lv", [(0, 1), (1, 1), (5, 5), (8, 8), (13, 13), (6, 11)])
def test_impl_matches_ref(backend_impl, dtype, rng, L, Lv):
    xp, impl = backend_impl
    cplx = dtype.startswith("complex")
    A = _A(rng, (2,), 5, cplx)
    v = rng.standard_normal((3, 1, 5, Lv))
    Ax, vx = testing.from_numpy(xp, A, dtype), testing.from_numpy(xp, v, dtype)
    AL, s = power(L, Ax, vx, impl=impl)
    wAL, ws = power_ref(L, A.astype(dtype), v.astype(dtype))
    testing.assert_close(AL, testing.from_numpy(xp, wAL, dtype), scale=20)
    testing.assert_close(s, testing.from_numpy(xp, ws, dtype), scale=20)
    assert tuple(s.shape) == (3, 2, 5)
    testing.assert_close(power(L, Ax, impl=impl), AL)


def test_mixed_real_matrix_complex_v(rng):
    A = _A(rng, (), 3, False)
    v = rng.standard_normal((3, 4)) + 1j
    AL, s = power(4, A, v)
    assert AL.dtype == np.float64 and s.dtype == np.complex128
    np.testing.assert_allclose(s, power_ref(4, A, v)[1], rtol=1e-12)


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
