"""S4D kernel (zoh / bilinear): the oracle is 2 Re Σ C B̄ Ā^l by direct powers of the modes,
with Ā, B̄ checked against SciPy's cont2discrete; step and forward_state against the
recurrence. VJPs: reverse loops over l (through Ā, not log Ā) against finite differences, the
log-Vandermonde compositions (every impl/backend/dtype) against them."""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array._ops.s4d_kernel._ref import (
    discretize_ref,
    s4d_forward_state_ref,
    s4d_forward_state_vjp_ref,
    s4d_kernel_ref,
    s4d_kernel_vjp_ref,
    s4d_recurrence_ref,
)
from lrnnx_array.ops import (
    S4DForwardStateGrads,
    S4DKernelGrads,
    S4DKernelOut,
    fft_conv_channels,
    s4d_forward_state,
    s4d_forward_state_vjp,
    s4d_kernel,
    s4d_kernel_vjp,
    s4d_step,
    s4d_step_setup,
)

DISCS = ["zoh", "bilinear"]

# Named tolerances (factors of testing.TOLERANCES); each at least as strict as the literal it
# replaced (the *_normwise ones bound every entry by the largest one, as the literals did).
testing.add_override("s4d_f64_scipy", 1e-3,
                     "one mode's zoh / bilinear in float64 against SciPy's cont2discrete: the "
                     "same closed forms, ~10 ulp apart")
testing.add_override("s4d_f64_sums", 0.1,
                     "float64 against float64: direct powers / the recurrence / another impl sum "
                     "the same O(1) terms in another order (<= 40 steps)")
testing.add_override("s4d_kernel_normwise", 5.0,
                     "kernel entries are sums of decaying powers: late taps are small differences "
                     "of O(max) terms, so the bound is normwise (5 x (atol + rtol max|k|) is the "
                     "old 10 rtol max|k| or stricter for max|k| >= 0.1; here max|k| is O(1))")
testing.add_override("s4d_vjp_normwise", 9.0,
                     "VJP entries sum over L = 40 powers and over channels/batch: normwise (9 x "
                     "(atol + rtol max|g|) is the old 10 rtol max(1, max|g|) or stricter)")


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
            testing.assert_close(dA[h, n], Ad[0, 0], override="s4d_f64_scipy")
            testing.assert_close(dB[h, n], Bd[0, 0], override="s4d_f64_scipy")


@pytest.mark.parametrize("disc", DISCS)
def test_ref_is_the_recurrence(rng, disc):
    p, s = _sys(rng)
    u = rng.standard_normal((2, 3, 9))
    y, _ = s4d_recurrence_ref(u, **p, disc=disc, state=s)
    k, ks = s4d_kernel_ref(**dict(p, dt=_dt2(p)), L=9, disc=disc, state=s)
    want = np.stack([sum(k[None, ..., j] * u[:, None, :, t - j] for j in range(t + 1))
                     for t in range(9)], -1) + ks
    testing.assert_close(y, want, override="s4d_f64_sums")


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
    testing.assert_close(k, kd, override="s4d_f64_sums")
    testing.assert_close(ks, ksd, override="s4d_f64_sums")


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
        testing.assert_close(g, testing.from_numpy(xp, w, rdt), override="s4d_kernel_normwise",
                             normwise=True)


def test_reference_impl_and_B_with_leading_one(rng):
    p, s = _sys(rng)
    a = s4d_kernel(**p, L=5, state=s, impl="reference")
    b = s4d_kernel(**dict(p, B=p["B"][None]), L=5, state=s)
    for g, w in zip(a, b):
        testing.assert_close(g, w, override="s4d_f64_sums")


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
    testing.assert_close(np.stack(ys, -1), want)
    got = s4d_forward_state(testing.from_numpy(xp, u), testing.from_numpy(xp, s), dA, dB)
    testing.assert_close(got, x)


@pytest.mark.parametrize("disc", DISCS)
def test_forward_state_chunks(rng, disc):
    p, s = _sys(rng)
    u = rng.standard_normal((2, 3, 20))
    dA, dB, _ = s4d_step_setup(**p, disc=disc)
    _, x_ref = s4d_recurrence_ref(u, **p, disc=disc, state=s)
    mid = s4d_forward_state(u[..., :7], s, dA, dB)
    testing.assert_close(s4d_forward_state(u[..., 7:], mid, dA, dB), x_ref)
    _, x0 = s4d_recurrence_ref(u, **p, disc=disc)
    testing.assert_close(s4d_forward_state(u, None, dA, dB), x0)


# ---- bad input ------------------------------------------------------------------------------


def test_bad_inputs(rng):
    p, s = _sys(rng)
    with pytest.raises(ValueError, match="disc must be one of"):
        s4d_kernel(**p, L=4, disc="euler")
    with pytest.raises(TypeError, match="A must have a complex dtype"):
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
    with pytest.raises(TypeError, match="u must have a real floating dtype"):
        s4d_forward_state(np.ones((2, 3, 4), complex), None, dA, dB)


# ---- VJP ------------------------------------------------------------------------------------

DT_SHAPES = {"H": (3,), "H1": (3, 1), "HN": (3, 4)}


def _kernel_fd(disc, L, with_state):
    if with_state:
        return (lambda A, B, C, dt, s: s4d_kernel_ref(A, B, C, dt, L, disc=disc, state=s),
                lambda g, A, B, C, dt, s: s4d_kernel_vjp_ref(g, A, B, C, dt, L, disc=disc,
                                                             state=s))
    return (lambda A, B, C, dt: s4d_kernel_ref(A, B, C, dt, L, disc=disc)[0],
            lambda g, A, B, C, dt: s4d_kernel_vjp_ref((g, None), A, B, C, dt, L, disc=disc)[:4])


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dt_shape", list(DT_SHAPES))
@pytest.mark.parametrize("with_state", [False, True])
def test_ref_vjp_finite_differences(rng, disc, dt_shape, with_state):
    p, s = _sys(rng, dt_shape=DT_SHAPES[dt_shape])
    f, f_vjp = _kernel_fd(disc, 9, with_state)
    testing.check_vjp(f, f_vjp, (p["A"], p["B"], p["C"], p["dt"]) + ((s,) if with_state else ()))


@pytest.mark.parametrize("disc", DISCS)
def test_ref_vjp_finite_differences_real_and_shaped_inputs(rng, disc):
    """B (1, H, N/2); real B, C and state get real gradients."""
    p, s = _sys(rng, H=2, N2=3, ch=1, batch=1)
    f, f_vjp = _kernel_fd(disc, 7, True)
    testing.check_vjp(f, f_vjp, (p["A"], p["B"][None], p["C"], p["dt"], s))
    testing.check_vjp(f, f_vjp, (p["A"], p["B"].real, p["C"].real, p["dt"], s.real))


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("with_state", [False, True])
def test_generic_vjp_finite_differences(rng, disc, with_state):
    """The log-Vandermonde composition against finite differences too (float64 NumPy)."""
    p, s = _sys(rng, dt_shape=(3, 4))
    L = 12
    if with_state:
        f = (lambda A, B, C, dt, s: tuple(s4d_kernel(A, B, C, dt, L, disc=disc, state=s)))
        f_vjp = (lambda g, A, B, C, dt, s: s4d_kernel_vjp(g, A, B, C, dt, L, disc=disc, state=s))
        args = (p["A"], p["B"], p["C"], p["dt"], s)
    else:
        f = (lambda A, B, C, dt: s4d_kernel(A, B, C, dt, L, disc=disc).k)
        f_vjp = (lambda g, A, B, C, dt: s4d_kernel_vjp((g, None), A, B, C, dt, L, disc=disc)[:4])
        args = (p["A"], p["B"], p["C"], p["dt"])
    testing.check_vjp(f, f_vjp, args)


def _close_grads(xp, got, want, rdt, cdt):
    for name, g, w in zip(got._fields, got, want):
        if w is None:
            assert g is None, name
            continue
        dt = cdt if np.iscomplexobj(w) else rdt
        testing.assert_close(g, testing.from_numpy(xp, w, dt), override="s4d_vjp_normwise",
                             normwise=True, err_msg=name)


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dt_shape", list(DT_SHAPES))
@pytest.mark.parametrize("with_state", [False, True])
def test_vjp_backends_and_dtypes_match_ref(backend_impl, complex_dtype, rng, disc, dt_shape,
                                           with_state):
    xp, impl = backend_impl
    p, s = _sys(rng, dt_shape=DT_SHAPES[dt_shape])
    s = s if with_state else None
    L = 40
    rdt = "float32" if complex_dtype == "complex64" else "float64"
    dk = rng.standard_normal((2, 3, L))
    dks = rng.standard_normal((2, 2, 3, L)) if with_state else None
    on = (lambda a, dt=complex_dtype: testing.from_numpy(xp, a, dt))
    args = {n: on(v, rdt if n == "dt" else complex_dtype) for n, v in p.items()}
    got = s4d_kernel_vjp(S4DKernelOut(on(dk, rdt), on(dks, rdt)), **args, L=L, disc=disc,
                         state=on(s), impl=impl)
    assert isinstance(got, S4DKernelGrads)
    want = s4d_kernel_vjp_ref((dk, dks), **p, L=L, disc=disc, state=s)
    _close_grads(xp, got, want, rdt, complex_dtype)


@pytest.mark.parametrize("with_state", [False, True])
def test_vjp_real_B_C_state_get_real_gradients(backend_impl, real_dtype, rng, with_state):
    xp, impl = backend_impl
    p, s = _sys(rng)
    cdt = "complex64" if real_dtype == "float32" else "complex128"
    p = dict(p, B=p["B"].real[None], C=p["C"].real)
    s = s.real if with_state else None
    dk, dks = rng.standard_normal((2, 3, 17)), rng.standard_normal((2, 2, 3, 17))
    dks = dks if with_state else None
    on = (lambda a, dt=real_dtype: testing.from_numpy(xp, a, dt))
    got = s4d_kernel_vjp((on(dk), on(dks)), on(p["A"], cdt), on(p["B"]), on(p["C"]),
                         on(p["dt"]), 17, state=on(s), impl=impl)
    want = s4d_kernel_vjp_ref((dk, dks), **p, L=17, state=s)
    assert str(got.dB.dtype).endswith(real_dtype) and tuple(got.dB.shape) == (1, 3, 4)
    _close_grads(xp, got, want, real_dtype, cdt)


def test_vjp_reference_impl_and_partial_cotangents(rng):
    p, s = _sys(rng, dt_shape=(3, 1))
    dk, dks = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 2, 3, 8))
    full = s4d_kernel_vjp((dk, dks), **p, L=8, state=s)
    for a, b in zip(s4d_kernel_vjp((dk, dks), **p, L=8, state=s, impl="reference"), full):
        testing.assert_close(a, b)
    only_k = s4d_kernel_vjp((dk, None), **p, L=8, state=s)
    only_s = s4d_kernel_vjp((None, dks), **p, L=8, state=s)
    for a, b, c in zip(only_k, only_s, full):
        testing.assert_close(a + b, c)
    assert not np.any(only_k.dstate) and not np.any(only_s.dB)
    assert all(not np.any(g) for g in s4d_kernel_vjp((None, None), **p, L=8, state=s))
    assert s4d_kernel_vjp((dk, None), **p, L=8).dstate is None


def test_vjp_zero_mode_is_finite(rng):
    p, s = _sys(rng)
    p["A"][0, 0] = 1e-30 + 0j
    dk, dks = rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 2, 3, 6))
    for disc in DISCS:
        for g in s4d_kernel_vjp((dk, dks), **p, L=6, state=s, disc=disc):
            assert np.isfinite(g).all()


# ---- forward_state VJP ----------------------------------------------------------------------


def _fs_args(rng, disc="zoh"):
    p, s = _sys(rng)
    dA, dB, _ = s4d_step_setup(**p, disc=disc)
    return rng.standard_normal((2, 3, 11)), s, np.asarray(dA), np.asarray(dB)


@pytest.mark.parametrize("state_kind", ["none", "complex", "real"])
def test_forward_state_ref_vjp_finite_differences(rng, state_kind):
    u, s, dA, dB = _fs_args(rng)
    if state_kind == "none":
        testing.check_vjp(lambda u, a, b: s4d_forward_state_ref(u, None, a, b),
                          lambda g, u, a, b: [s4d_forward_state_vjp_ref(g, u, None, a, b)[i]
                                              for i in (0, 2, 3)], (u, dA, dB))
        return
    s = s if state_kind == "complex" else s.real
    testing.check_vjp(s4d_forward_state_ref, s4d_forward_state_vjp_ref, (u, s, dA, dB))


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("with_state", [False, True])
def test_forward_state_vjp_backends_match_ref(backend_impl, complex_dtype, rng, disc,
                                              with_state):
    xp, impl = backend_impl
    u, s, dA, dB = _fs_args(rng, disc)
    s = s if with_state else None
    g = _cx(rng, 2, 3, 4)
    rdt = "float32" if complex_dtype == "complex64" else "float64"
    on = (lambda a, dt=complex_dtype: testing.from_numpy(xp, a, dt))
    got = s4d_forward_state_vjp(on(g), on(u, rdt), on(s), on(dA), on(dB), impl=impl)
    assert isinstance(got, S4DForwardStateGrads)
    _close_grads(xp, got, s4d_forward_state_vjp_ref(g, u, s, dA, dB), rdt, complex_dtype)


def test_forward_state_vjp_reference_impl_and_the_public_forward(rng):
    u, s, dA, dB = _fs_args(rng, "bilinear")
    g = _cx(rng, 2, 3, 4)
    testing.check_vjp(s4d_forward_state, s4d_forward_state_vjp, (u, s, dA, dB))
    a = s4d_forward_state_vjp(g, u, s, dA, dB, impl="reference")
    for x, y in zip(a, s4d_forward_state_vjp(g, u, s, dA, dB)):
        testing.assert_close(x, y)


# ---- VJP bad input --------------------------------------------------------------------------


def test_vjp_bad_inputs(rng):
    p, s = _sys(rng)
    dk, dks = np.ones((2, 3, 5)), np.ones((2, 2, 3, 5))
    with pytest.raises(TypeError, match=r"dout must be the pair \(dk, dk_state\)"):
        s4d_kernel_vjp(dk, **p, L=5)
    with pytest.raises(TypeError, match=r"dout must be the pair"):
        s4d_kernel_vjp((dk, dks, dks), **p, L=5, state=s)
    with pytest.raises(ValueError, match="dk_state must be None when state is None"):
        s4d_kernel_vjp((dk, dks), **p, L=5)
    with pytest.raises(ValueError, match=r"dk with shape \(2, 3, 6\) does not broadcast"):
        s4d_kernel_vjp((np.ones((2, 3, 6)), None), **p, L=5)
    with pytest.raises(ValueError, match=r"dk_state with shape \(3, 2, 3, 5\) does not"):
        s4d_kernel_vjp((dk, np.ones((3, 2, 3, 5))), **p, L=5, state=s)
    with pytest.raises(TypeError, match="dk must have a real floating dtype"):
        s4d_kernel_vjp((dk + 0j, None), **p, L=5)
    with pytest.raises(TypeError, match="dk_state must have a real floating dtype"):
        s4d_kernel_vjp((None, dks + 0j), **p, L=5, state=s)
    with pytest.raises(ValueError, match="disc must be one of"):
        s4d_kernel_vjp((dk, None), **p, L=5, disc="euler")
    with pytest.raises(ValueError, match="dt must have shape"):
        s4d_kernel_vjp((dk, None), **dict(p, dt=np.ones(5)), L=5)
    u, s, dA, dB = _fs_args(rng)
    with pytest.raises(ValueError, match=r"dout with shape \(2, 3, 5\) does not broadcast"):
        s4d_forward_state_vjp(np.ones((2, 3, 5), complex), u, s, dA, dB)
    with pytest.raises(ValueError, match="state must have shape"):
        s4d_forward_state_vjp(np.ones((2, 3, 4), complex), u, s[:1], dA, dB)
    with pytest.raises(ValueError, match="dB must have shape"):
        s4d_forward_state_vjp(np.ones((2, 3, 4), complex), u, s, dA, dB[:, :2])
    with pytest.raises(TypeError, match="u must have a real floating dtype"):
        s4d_forward_state_vjp(np.ones((2, 3, 4), complex), u + 0j, s, dA, dB)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("L", [1, 2, 5])
def test_forward_state_vjp_exact_at_underflowed_abar(rng, with_state, L):
    # dt = 1e4: Ā = exp(dt A) underflows to exactly 0 for every mode. The gradient of Ā at 0 is
    # finite and non-zero (dx_L/dĀ = B̄ u_{L-2} + [L = 1] s); the fast path must not divide by Ā.
    p, s = _sys(rng)
    dA, dB, _ = s4d_step_setup(p["A"], p["B"], p["C"], np.full(3, 1e4))
    dA, dB = np.asarray(dA), np.asarray(dB)
    assert np.all(dA == 0)
    u = rng.standard_normal((2, 3, L))
    s = s if with_state else None
    g = _cx(rng, 2, 3, 4)
    got = s4d_forward_state_vjp(g, u, s, dA, dB, impl="generic")
    assert all(np.isfinite(a).all() for a in got if a is not None)
    # the oracle: central finite differences of the float64 reference at Ā = 0 (check_vjp)
    if with_state:
        testing.check_vjp(s4d_forward_state_ref, lambda c, *a: s4d_forward_state_vjp(
            c, *a, impl="generic"), (u, s, dA, dB), cotangents=[g])
    else:
        testing.check_vjp(lambda u, a, b: s4d_forward_state_ref(u, None, a, b),
                          lambda c, u, a, b: [s4d_forward_state_vjp(c, u, None, a, b,
                                                                    impl="generic")[i]
                                              for i in (0, 2, 3)], (u, dA, dB), cotangents=[g])
    if L > 1 or with_state:  # not vacuous: there the gradient of Ā at 0 is non-zero
        assert np.abs(got.ddA).min() > 0
