"""S4D kernel (zoh / bilinear): the oracle is 2 Re Σ C B̄ Ā^l by direct powers of the modes,
with Ā, B̄ checked against SciPy's cont2discrete; step and forward_state against the
recurrence."""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array.ops.fft_conv import fft_conv_channels
from lrnnx_array.ops.s4d_kernel import (
    s4d_forward_state,
    s4d_kernel,
    s4d_step,
    s4d_step_setup,
)
from lrnnx_array.ops.s4d_kernel._ref import discretize_ref, s4d_kernel_ref, s4d_recurrence_ref

DISCS = ["zoh", "bilinear"]


def _cx(rng, *shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _sys(rng, H=3, N2=4, ch=2, batch=2, dt_shape=None):
    A = -rng.uniform(0.1, 1.0, (H, N2)) + 1j * rng.uniform(-4, 4, (H, N2))
    dt = rng.uniform(0.05, 0.5, dt_shape or (H,))
    return dict(A=A, B=_cx(rng, H, N2), C=_cx(rng, ch, H, N2), dt=dt), _cx(rng, batch, H, N2)


def _dt2(p):
    return np.reshape(p["dt"], (p["A"].shape[0], -1))


# ---- tier 1 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("disc", DISCS)
def test_discretisation_matches_scipy(rng, disc):
    p, _ = _sys(rng)
    dA, dB = discretize_ref(p["A"], p["B"], _dt2(p), disc)
    method = "zoh" if disc == "zoh" else "bilinear"
    for h in range(3):
        for n in range(4):
            Ad, Bd, *_ = scipy.signal.cont2discrete(
                (np.array([[p["A"][h, n]]]), np.array([[p["B"][h, n]]]), np.eye(1),
                 np.zeros((1, 1))),
                p["dt"][h], method=method)
            np.testing.assert_allclose(dA[h, n], Ad[0, 0], rtol=1e-12)
            np.testing.assert_allclose(dB[h, n], Bd[0, 0], rtol=1e-12)


@pytest.mark.parametrize("disc", DISCS)
def test_ref_is_the_recurrence(rng, disc):
    p, s = _sys(rng)
    u = rng.standard_normal((2, 3, 9))
    y, _ = s4d_recurrence_ref(u, **p, disc=disc, state=s)
    k, ks = s4d_kernel_ref(**dict(p, dt=_dt2(p)), L=9, disc=disc, state=s)
    want = np.stack([sum(k[None, ..., j] * u[:, None, :, t - j] for j in range(t + 1))
                     for t in range(9)], -1) + ks
    np.testing.assert_allclose(y, want, atol=1e-12)


# ---- the kernel against direct powers ---------------------------------------------------------


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("L", [1, 2, 7, 16, 33])
@pytest.mark.parametrize("dt_shape", [None, "col", "full"])
def test_kernel_equals_direct_powers(rng, disc, L, dt_shape):
    p, s = _sys(rng, dt_shape={None: None, "col": (3, 1), "full": (3, 4)}[dt_shape])
    k, ks = s4d_kernel(**p, L=L, disc=disc, state=s)
    dA, dB = discretize_ref(p["A"], p["B"], _dt2(p), disc)
    kd = np.stack([2 * np.real(np.sum(p["C"] * dB * dA ** t, -1)) for t in range(L)], -1)
    ksd = np.stack([2 * np.real(np.sum(p["C"][None] * (dA ** (t + 1) * s)[:, None], -1))
                    for t in range(L)], -1)
    np.testing.assert_allclose(k, kd, atol=1e-12 * max(1, np.abs(kd).max()))
    np.testing.assert_allclose(ks, ksd, atol=1e-12 * max(1, np.abs(ksd).max()))


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("L", [1, 9, 40])
def test_backends_and_dtypes_match_ref(backend_impl, complex_dtype, rng, disc, L):
    xp, impl = backend_impl
    p, s = _sys(rng)
    rdt = "float32" if complex_dtype == "complex64" else "float64"
    args = {n: testing.from_numpy(xp, v, rdt if n == "dt" else complex_dtype) for n, v in p.items()}
    got = s4d_kernel(**args, L=L, disc=disc, state=testing.from_numpy(xp, s, complex_dtype),
                     impl=impl)
    want = s4d_kernel_ref(**dict(p, dt=_dt2(p)), L=L, disc=disc, state=s)
    for g, w in zip(got, want):
        atol = testing.tolerance(rdt)[0] * 10 * np.abs(w).max()
        testing.assert_close(g, testing.from_numpy(xp, w, rdt), atol=atol, rtol=0)


def test_reference_impl_and_B_with_leading_one(rng):
    p, s = _sys(rng)
    a = s4d_kernel(**p, L=5, state=s, impl="reference")
    b = s4d_kernel(**dict(p, B=p["B"][None]), L=5, state=s)
    for g, w in zip(a, b):
        np.testing.assert_allclose(g, w, atol=1e-12)


def test_zero_mode_is_finite_for_the_state(rng):
    """A = 0 (a pure integrator) is a 0/0 in lrnnx's state coefficient; Ā s is not."""
    p, s = _sys(rng)
    p["A"][0, 0] = 1e-30 + 0j
    k, ks = s4d_kernel(**p, L=6, state=s, disc="bilinear")
    assert np.isfinite(ks).all() and np.isfinite(k).all()


# ---- step and forward_state -----------------------------------------------------------------


@pytest.mark.parametrize("disc", DISCS)
def test_step_iterated_equals_convolution(backend, rng, disc):
    xp = testing.backend_namespace(backend)
    p, s = _sys(rng)
    L = 11
    u = rng.standard_normal((2, 3, L))
    k, ks = s4d_kernel(**p, L=L, disc=disc, state=s)
    want = fft_conv_channels(u[:, None], k) + ks
    dA, dB, dC = s4d_step_setup(**{n: testing.from_numpy(xp, v) for n, v in p.items()}, disc=disc)
    x = testing.from_numpy(xp, s)
    ys = []
    for t in range(L):
        y, x = s4d_step(testing.from_numpy(xp, u[..., t]), x, dA, dB, dC)
        ys.append(testing.to_numpy(y))
    np.testing.assert_allclose(np.stack(ys, -1), want, atol=1e-11)
    got = s4d_forward_state(testing.from_numpy(xp, u), testing.from_numpy(xp, s), dA, dB)
    np.testing.assert_allclose(testing.to_numpy(got), testing.to_numpy(x), atol=1e-11)


@pytest.mark.parametrize("disc", DISCS)
def test_forward_state_chunks(rng, disc):
    p, s = _sys(rng)
    u = rng.standard_normal((2, 3, 20))
    dA, dB, _ = s4d_step_setup(**p, disc=disc)
    _, x_ref = s4d_recurrence_ref(u, **p, disc=disc, state=s)
    mid = s4d_forward_state(u[..., :7], s, dA, dB)
    np.testing.assert_allclose(s4d_forward_state(u[..., 7:], mid, dA, dB), x_ref, atol=1e-11)
    _, x0 = s4d_recurrence_ref(u, **p, disc=disc)
    np.testing.assert_allclose(s4d_forward_state(u, None, dA, dB), x0, atol=1e-11)


# ---- bad input ------------------------------------------------------------------------------


def test_bad_inputs(rng):
    p, s = _sys(rng)
    with pytest.raises(ValueError, match="disc must be one of"):
        s4d_kernel(**p, L=4, disc="euler")
    with pytest.raises(TypeError, match="A must be complex"):
        s4d_kernel(**dict(p, A=p["A"].real), L=4)
    with pytest.raises(ValueError, match=r"dt must have shape \(H,\), \(H, 1\) or \(H, N/2\)"):
        s4d_kernel(**dict(p, dt=np.ones(5)), L=4)
    with pytest.raises(ValueError, match=r"C must have shape \(channels, H, N/2\)"):
        s4d_kernel(**dict(p, C=p["C"][..., :2]), L=4)
    with pytest.raises(ValueError, match="state must have shape"):
        s4d_kernel(**p, L=4, state=s[:, :2])
    with pytest.raises(ValueError, match="L must be >= 1"):
        s4d_kernel(**p, L=0)
    bad = p["B"].copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="B must be finite"):
        s4d_kernel(**dict(p, B=bad), L=4)
    dA, dB, dC = s4d_step_setup(**p)
    with pytest.raises(ValueError, match="state must have shape"):
        s4d_step(np.ones((2, 3)), np.zeros((2, 3, 5), complex), dA, dB, dC)
    with pytest.raises(TypeError, match="u must be real floating"):
        s4d_forward_state(np.ones((2, 3, 4), complex), None, dA, dB)
