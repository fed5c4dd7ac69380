"""S4 DPLR ops with one step per mode (``dt_tie=False``, dt (H, N/2); lrnnx's S4 ``dt_tie=False``).

The system is diag(Δ_f)(Λ_f - P_f P_f^H) with input Δ_f B_f, discretised with a unit step. The
oracle (``_ref``) builds exactly that dense matrix and uses the bilinear formula
(I - X/2)^{-1}(I + X/2); it is proven against SciPy's cont2discrete and, for a constant Δ per
channel, against the per-channel oracle of ``test_dplr_kernel.py``. Then the Cauchy/Woodbury
kernel, its VJP (against finite differences of the oracle), C̃, the three step modes and
forward_state are compared to it, and a constant per-mode dt must give the per-channel results.
"""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array._ops.dplr_kernel import STEP_MODES
from lrnnx_array._ops.dplr_kernel._ref import (
    dplr_dense_ref,
    dplr_kernel_ref,
    dplr_kernel_vjp_ref,
    dplr_recurrence_ref,
    expand,
    full_matrix_ref,
)
from lrnnx_array.ops import (
    c_from_tilde,
    c_tilde,
    double_length,
    dplr_default_state,
    dplr_dense,
    dplr_forward_state,
    dplr_kernel,
    dplr_kernel_vjp,
    dplr_step,
    dplr_step_setup,
    fft_conv_channels,
)

testing.add_override("dplr_pm_f64", 10.0,
                     "float64 Cauchy/Woodbury kernel, steps or VJP against dense powers of the "
                     "per-mode system over up to 33 steps (solves of I - A^L and resolvents)")
testing.add_override("dplr_pm_scipy", 0.1,
                     "float64 against float64: SciPy's bilinear against the oracle's, the same "
                     "O(1) terms in another order")
testing.add_override("dplr_pm_diagonal", 1e3,
                     "diagonal step mode: eig of the non-normal dense bilinear matrix")

H, N2 = 3, 4


def _cx(rng, *shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _sys(rng, rank=1, ch=2, batch=2, dt=None):
    A = -rng.uniform(0.1, 1.0, (H, N2)) + 1j * rng.uniform(-4, 4, (H, N2))
    P = 0.5 * _cx(rng, rank, H, N2) if rank else None
    dt = rng.uniform(0.05, 0.5, (H, N2)) if dt is None else dt
    return dict(A=A, B=_cx(rng, H, N2), C=_cx(rng, ch, H, N2), P=P, dt=dt), _cx(rng, batch, H, N2)


def _state(s, kind):
    return None if kind is None else (s if kind == "half" else expand(s))


C_MODES = {"plain": dict(), "tilde": dict(C_is_tilde=True, l_kernel=16),
           "tilde_doubling": dict(C_is_tilde=True, l_kernel=2)}


# ---- the oracle ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [0, 1, 2])
def test_oracle_dense_matches_scipy_on_the_scaled_system(rng, rank):
    p, _ = _sys(rng, rank)
    dA, dB = dplr_dense_ref(p["A"], p["P"], p["B"], p["dt"])
    Af = full_matrix_ref(p["A"], p["P"])
    dtf = expand(p["dt"]).real
    for h in range(H):
        X = dtf[h][:, None] * Af[h]  # diag(Δ_f) A_f, what lrnnx's A*dt and v*dt stand for
        Bx = (dtf[h] * expand(p["B"])[h])[:, None]
        Ad, Bd, *_ = scipy.signal.cont2discrete((X, Bx, np.eye(2 * N2), np.zeros((2 * N2, 1))),
                                                1.0, method="bilinear")
        testing.assert_close(dA[h], Ad, override="dplr_pm_scipy")
        testing.assert_close(dB[h], Bd[:, 0], override="dplr_pm_scipy")


def test_oracle_with_constant_modes_is_the_per_channel_oracle(rng):
    dt_h = rng.uniform(0.05, 0.5, H)
    p, s = _sys(rng, 2, dt=np.repeat(dt_h[:, None], N2, axis=1))
    q = dict(p, dt=dt_h)
    for got, want in zip(dplr_dense_ref(p["A"], p["P"], p["B"], p["dt"]),
                         dplr_dense_ref(q["A"], q["P"], q["B"], q["dt"])):
        testing.assert_close(got, want, override="dplr_pm_scipy")
    for kw in C_MODES.values():
        for got, want in zip(dplr_kernel_ref(**p, L=9, state=s, rate=0.5, **kw),
                             dplr_kernel_ref(**q, L=9, state=s, rate=0.5, **kw)):
            testing.assert_close(got, want, override="dplr_pm_f64")
    dout = (rng.standard_normal((2, H, 9)), rng.standard_normal((2, 2, H, 9)))
    g = dplr_kernel_vjp_ref(dout, **p, L=9, state=s)
    w = dplr_kernel_vjp_ref(dout, **q, L=9, state=s)
    for name, a, b in zip(("dA", "dB", "dC", "dP", "ddt", "dstate"), g, w):
        if name == "ddt":  # the per-channel gradient is the sum over the modes
            assert a.shape == (H, N2)
            a = a.sum(-1)
        testing.assert_close(a, b, override="dplr_pm_f64", err_msg=name)


def test_oracle_kernel_is_the_recurrence(rng):
    p, s = _sys(rng, 2)
    u = rng.standard_normal((2, H, 10))
    y, _ = dplr_recurrence_ref(u, **p, state=s)
    k, ks = dplr_kernel_ref(**p, L=10, state=s)
    testing.assert_close(fft_conv_channels(u[:, None], k) + ks, y, override="dplr_pm_f64")


# ---- the Cauchy/Woodbury kernel -------------------------------------------------------------


@pytest.mark.parametrize("c_mode", list(C_MODES))
@pytest.mark.parametrize("state", [None, "half", "full"])
@pytest.mark.parametrize("rate", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("L", [1, 7, 16])
@pytest.mark.parametrize("rank", [0, 1, 2, 3])
def test_kernel_matches_oracle(rng, rank, L, rate, state, c_mode):
    p, s = _sys(rng, rank)
    st = _state(s, state)
    got = dplr_kernel(**p, L=L, rate=rate, state=st, dt_tie=False, **C_MODES[c_mode])
    want = dplr_kernel_ref(**p, L=L, rate=rate, state=st, **C_MODES[c_mode])
    assert (got.k_state is None) == (state is None)
    for g, w in zip(got, want):
        if w is not None:
            testing.assert_close(g, w, override="dplr_pm_f64")


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("L,rate", [(7, 1.0), (12, 0.5)])
def test_backends_and_dtypes_match_oracle(backend_impl, complex_dtype, rng, rank, L, rate):
    xp, impl = backend_impl
    p, s = _sys(rng, rank)
    rdt = "float32" if complex_dtype == "complex64" else "float64"
    args = {n: testing.from_numpy(xp, v, rdt if n == "dt" else complex_dtype) for n, v in p.items()}
    got = dplr_kernel(**args, L=L, rate=rate, state=testing.from_numpy(xp, s, complex_dtype),
                      impl=impl, dt_tie=False)
    for g, w in zip(got, dplr_kernel_ref(**p, L=L, rate=rate, state=s)):
        atol = testing.tolerance(rdt)[0] * (1 if rdt == "float64" else 30) * np.abs(w).max()
        testing.assert_close(g, testing.from_numpy(xp, w, rdt), atol=atol, rtol=0)


def test_constant_per_mode_dt_reduces_exactly_to_the_per_channel_path(rng):
    dt_h = rng.uniform(0.05, 0.5, H)
    p, s = _sys(rng, 2, dt=np.repeat(dt_h[:, None], N2, axis=1))
    q = dict(p, dt=dt_h)
    for kw in C_MODES.values():
        for a, b in zip(dplr_kernel(**p, L=9, rate=0.5, state=s, dt_tie=False, **kw),
                        dplr_kernel(**q, L=9, rate=0.5, state=s, **kw)):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(dplr_dense(p["A"], p["P"], p["B"], p["dt"], dt_tie=False),
                    dplr_dense(q["A"], q["P"], q["B"], q["dt"])):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c_tilde(p["A"], p["C"], p["P"], p["dt"], 8, dt_tie=False),
                                  c_tilde(q["A"], q["C"], q["P"], q["dt"], 8))
    for mode in ("dense", "linear"):
        for a, b in zip(dplr_step_setup(**p, mode=mode, dt_tie=False),
                        dplr_step_setup(**q, mode=mode)):
            np.testing.assert_array_equal(a, b)
    dout = (rng.standard_normal((2, H, 9)), rng.standard_normal((2, 2, H, 9)))
    g = dplr_kernel_vjp(dout, **p, L=9, state=s, rate=0.5, dt_tie=False)
    w = dplr_kernel_vjp(dout, **q, L=9, state=s, rate=0.5)
    for name, a, b in zip(g._fields, g, w):
        if name == "ddt":
            assert a.shape == (H, N2)
            testing.assert_close(a.sum(-1), b, override="dplr_pm_scipy")
        else:  # only the dt cotangent is reduced differently
            np.testing.assert_array_equal(a, b, err_msg=name)


# ---- VJP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("c_mode", list(C_MODES))
@pytest.mark.parametrize("state", [None, "half", "full"])
@pytest.mark.parametrize("rate", [1.0, 0.5])
@pytest.mark.parametrize("L", [1, 7])
@pytest.mark.parametrize("rank", [0, 1, 2])
def test_oracle_vjp_against_finite_differences(rng, rank, L, rate, state, c_mode):
    p, s = _sys(rng, rank)
    kw = dict(rate=rate, **C_MODES[c_mode])

    def f(A, B, C, P, dt, st):
        return dplr_kernel_ref(A, B, C, P, dt, L, state=st, **kw)

    def f_vjp(g, A, B, C, P, dt, st):
        return dplr_kernel_vjp_ref(g, A, B, C, P, dt, L, state=st, **kw)

    primals = [p["A"], p["B"], p["C"], p["P"], p["dt"], _state(s, state)]
    # As in test_dplr_kernel.py: central differences at eps = 2e-6 stay far below these bounds
    # for Δ >= 0.05; a dropped per-mode factor fails them by orders of magnitude.
    testing.check_vjp(f, f_vjp, primals, eps=2e-6, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("c_mode", list(C_MODES))
@pytest.mark.parametrize("state", [None, "half", "full"])
@pytest.mark.parametrize("rate", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("L", [1, 7, 16])
@pytest.mark.parametrize("rank", [0, 1, 2, 3])
def test_vjp_matches_oracle_vjp(rng, rank, L, rate, state, c_mode):
    p, s = _sys(rng, rank)
    st = _state(s, state)
    dout = (rng.standard_normal((2, H, L)),
            None if st is None else rng.standard_normal((2, 2, H, L)))
    kw = dict(L=L, rate=rate, state=st, **C_MODES[c_mode])
    got = dplr_kernel_vjp(dout, **p, dt_tie=False, **kw)
    want = dplr_kernel_vjp_ref(dout, **p, **kw)
    assert got.ddt.shape == (H, N2) and got.ddt.dtype == np.float64
    for name, g, w in zip(got._fields, got, want):
        if w is None:
            assert g is None, name
            continue
        assert g.shape == w.shape and g.dtype == w.dtype, name
        testing.assert_close(g, w, override="dplr_pm_f64", err_msg=name)


@pytest.mark.parametrize("rank", [1, 2])
def test_vjp_backends_and_dtypes_match_oracle(backend_impl, complex_dtype, rng, rank):
    xp, impl = backend_impl
    p, s = _sys(rng, rank)
    rdt = "float32" if complex_dtype == "complex64" else "float64"
    dk, dks = rng.standard_normal((2, H, 12)), rng.standard_normal((2, 2, H, 12))
    kw = dict(L=12, rate=0.5, C_is_tilde=True, l_kernel=4)
    want = dplr_kernel_vjp_ref((dk, dks), **p, state=s, **kw)
    on = lambda x, d=complex_dtype: testing.from_numpy(xp, x, d)  # noqa: E731
    args = {n: on(v, rdt if n == "dt" else complex_dtype) for n, v in p.items()}
    got = dplr_kernel_vjp((on(dk, rdt), on(dks, rdt)), **args, state=on(s), impl=impl,
                          dt_tie=False, **kw)
    for name, g, w in zip(got._fields, got, want):
        d = rdt if name == "ddt" else complex_dtype
        atol = testing.tolerance(rdt)[0] * np.abs(w).max()
        testing.assert_close(g, testing.from_numpy(xp, w, d), atol=atol, rtol=0, err_msg=name)


# ---- C̃, steps, forward_state ----------------------------------------------------------------


def test_c_tilde_round_trip_and_doubling(rng):
    p, _ = _sys(rng, 2)
    a = (p["A"], p["P"], p["dt"])
    Ct = c_tilde(p["A"], p["C"], p["P"], p["dt"], 8, dt_tie=False)
    dA, _ = dplr_dense_ref(p["A"], p["P"], p["B"], p["dt"])
    Cf = expand(p["C"])
    want = (Cf - np.einsum("chm,hmn->chn", Cf, np.linalg.matrix_power(dA, 8)))[..., :N2]
    testing.assert_close(Ct, want, override="dplr_pm_f64")
    testing.assert_close(c_from_tilde(Ct, *a, 8, dt_tie=False), p["C"], override="dplr_pm_f64")
    Ct16, l2 = double_length(Ct, *a, 8, dt_tie=False)
    assert l2 == 16
    testing.assert_close(Ct16, c_tilde(p["A"], p["C"], p["P"], p["dt"], 16, dt_tie=False),
                         override="dplr_pm_f64")


@pytest.mark.parametrize("mode", STEP_MODES)
@pytest.mark.parametrize("rank", [0, 1, 2])
def test_steps_iterated_equal_the_kernel_convolution(backend, rng, mode, rank):
    """From zero (every mode) and from a state (dense: full, linear: half), with C̃ given."""
    xp = testing.backend_namespace(backend)
    p, s = _sys(rng, rank)
    L = 13
    u = rng.standard_normal((2, H, L))
    k, ks = dplr_kernel(**p, L=L, state=s, dt_tie=False)
    conv = fft_conv_channels(u[:, None], k)
    Ct = c_tilde(p["A"], p["C"], p["P"], p["dt"], 16, dt_tie=False)
    args = {n: testing.from_numpy(xp, v) for n, v in dict(p, C=Ct).items()}
    setup = dplr_step_setup(**args, mode=mode, C_is_tilde=True, l_kernel=16, dt_tie=False)
    starts = [(dplr_default_state(setup, 2), conv)]
    if mode != "diagonal":  # the diagonal state lives in the eigenbasis
        starts.append((testing.from_numpy(xp, s if mode == "linear" else expand(s)), conv + ks))
    name = "dplr_pm_diagonal" if mode == "diagonal" else "dplr_pm_f64"
    for x, want in starts:
        ys = []
        for t in range(L):
            y, x = dplr_step(testing.from_numpy(xp, u[..., t]), x, setup)
            ys.append(testing.to_numpy(y))
        testing.assert_close(np.stack(ys, -1), want, override=name)


@pytest.mark.parametrize("half", [True, False, None])
def test_forward_state(backend, rng, half):
    xp = testing.backend_namespace(backend)
    p, s = _sys(rng, 2)
    u = rng.standard_normal((2, H, 10))
    state = None if half is None else (s if half else expand(s))
    _, x_ref = dplr_recurrence_ref(u, **p, state=state)
    dA, dB = dplr_dense(*(testing.from_numpy(xp, p[n]) for n in ("A", "P", "B", "dt")),
                        dt_tie=False)
    got = dplr_forward_state(testing.from_numpy(xp, u), testing.from_numpy(xp, state), dA, dB)
    testing.assert_close(testing.to_numpy(got), x_ref[..., :N2] if half else x_ref,
                         override="dplr_pm_f64")


# ---- bad input ----------------------------------------------------------------------------


def test_bad_inputs(rng):
    p, s = _sys(rng, 1)
    with pytest.raises(ValueError, match=r"dt must have shape \(H, N/2\) = \(3, 4\) with "
                                         r"dt_tie=False.*got \(3, 2\)"):
        dplr_kernel(**dict(p, dt=p["dt"][:, :2]), L=4, dt_tie=False)
    # a per-channel dt is the special case constant over the modes (its gradient keeps its shape)
    for dt in (p["dt"][:, 0], p["dt"][:, :1]):
        np.testing.assert_array_equal(dplr_kernel(**dict(p, dt=dt), L=4, dt_tie=False).k,
                                      dplr_kernel(**dict(p, dt=dt), L=4).k)
        g = dplr_kernel_vjp((np.ones((2, H, 4)), None), **dict(p, dt=dt), L=4, dt_tie=False)
        assert g.ddt.shape == dt.shape
    with pytest.raises(ValueError, match=r"pass dt_tie=False for one step per mode"):
        dplr_kernel(**p, L=4)
    with pytest.raises(TypeError, match="dt_tie must be a bool"):
        dplr_kernel(**p, L=4, dt_tie="no")
    assert dplr_kernel(**p, L=4, dt_tie=np.False_).k.shape == (2, H, 4)
    bad = p["dt"].copy()
    bad[1, 2] = -0.1
    for fn in (lambda d: dplr_kernel(**dict(p, dt=d), L=4, dt_tie=False),
               lambda d: dplr_step_setup(**dict(p, dt=d), dt_tie=False),
               lambda d: c_tilde(p["A"], p["C"], p["P"], d, 4, dt_tie=False)):
        with pytest.raises(ValueError, match="dt must be positive"):
            fn(bad)
    nan = p["dt"].copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="dt must be finite"):
        dplr_kernel_vjp((np.ones((2, H, 4)), None), **dict(p, dt=nan), L=4, dt_tie=False)
    # check_finite=False skips the value checks (no host read): the NaN flows through
    with np.errstate(invalid="ignore", divide="ignore"):
        k = dplr_kernel(**dict(p, dt=nan), L=4, dt_tie=False, check_finite=False).k
    assert np.isnan(k[:, 0]).any()
    with pytest.raises(TypeError, match="dt_tie must be a bool"):
        dplr_dense(p["A"], p["P"], p["B"], p["dt"], dt_tie=1)
    with pytest.raises(ValueError, match=r"dt must have shape \(H, N/2\)"):
        dplr_step_setup(**dict(p, dt=p["dt"][:, :2]), mode="linear", dt_tie=False)


@pytest.mark.parametrize("shape", [(0, 3), (2, 0)])
def test_zero_sizes(shape):
    h, n = shape
    z = np.zeros(shape, complex)
    args = (z, z, np.zeros((1, h, n), complex), np.zeros((1, h, n), complex), np.ones(shape))
    assert dplr_kernel(*args, 4, dt_tie=False).k.shape == (1, h, 4)
    assert dplr_kernel_vjp((np.ones((1, h, 4)), None), *args, 4, dt_tie=False).ddt.shape == shape


def test_float16_dt_computes_in_float32(rng):
    p, _ = _sys(rng, 1)
    c64 = {n: (v.astype(np.complex64) if n != "dt" else v.astype(np.float16))
           for n, v in p.items()}
    k = dplr_kernel(**c64, L=5, dt_tie=False).k
    assert k.dtype == np.float32
    want = dplr_kernel_ref(**dict(p, dt=c64["dt"].astype(np.float64)), L=5)[0]
    atol = testing.tolerance("float32")[0] * 30 * np.abs(want).max()  # as the backend tests
    testing.assert_close(k, want.astype(np.float32), atol=atol, rtol=0)
