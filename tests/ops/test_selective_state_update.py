"""selective_state_update: discretizations vs SciPy, every impl vs ref, step iterated == scan."""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array._ops.diag_scan._ref import diag_scan_ref
from lrnnx_array._ops.rglru_scan._ref import rglru_scan_ref
from lrnnx_array._ops.s7_scan._ref import s7_scan_ref
from lrnnx_array._ops.selective_state_update._ref import disc_ref, selective_state_update_ref
from lrnnx_array.ops import selective_state_update as ssu

METHODS = ("zoh", "bilinear", "dirac", "mamba", "rglru", "s7")
COMPLEX_OK = ("zoh", "bilinear", "dirac", "mamba")
# lrnnx's Triton test tolerance (3e-4, 1e-3) on state and out is the loosest allowed; the table
# is tighter.


def _case(
    rng, method, *, Bsz=2, nh=None, P=8, N=4, G=1, cplx=False, rows=None, tie=False, deltaA=False
):
    """lrnnx-style data: dt = 0.1·U... here U(0, 0.5) with dt_bias = U − 4 and softplus."""
    lead = (nh,) if nh else ()
    state = rng.standard_normal(((rows or Bsz), *lead, P, N))
    A = -rng.uniform(1, 2, (*lead, P, N))
    if method == "rglru":
        A = rng.uniform(0.5, 0.999, A.shape)
    if tie:  # lrnnx's tie_hdim: A, dt, dt_bias constant over the head dim
        A = A[..., :1, :]
    if cplx:
        state = state + 1j * rng.standard_normal(state.shape)
        A = A + 1j * rng.standard_normal(A.shape)
    x = rng.standard_normal((Bsz, *lead, P))
    dt = rng.uniform(0, 0.5, (Bsz, *lead, 1 if tie else P))
    bc = (Bsz, G, N) if nh else (Bsz, N)
    B, C = rng.standard_normal(bc), rng.standard_normal(bc)
    if cplx:
        B, C = B + 1j * rng.standard_normal(bc), C + 1j * rng.standard_normal(bc)
    D = rng.standard_normal((*lead, P))
    z = rng.standard_normal(x.shape)
    dt_bias = rng.uniform(-4, -3, (*lead, 1 if tie else P))
    dA = rng.uniform(0, 0.5, x.shape) if deltaA else None
    return dict(state=state, x=x, dt=dt, A=A, B=B, C=C, D=D, z=z, dt_bias=dt_bias, deltaA=dA)


def _run(xp, impl, dtype, case, method, idx=None, softplus=True):
    cplx_dt = {"float32": "complex64", "float64": "complex128"}[dtype]
    conv = {}
    for k, v in case.items():
        conv[k] = (
            None
            if v is None
            else testing.from_numpy(xp, v, cplx_dt if np.iscomplexobj(v) else dtype)
        )
    st = conv.pop("state")
    I = None if idx is None else testing.from_numpy(xp, idx)
    out = ssu(
        st,
        conv["x"],
        conv["dt"],
        conv["A"],
        conv["B"],
        conv["C"],
        conv["D"],
        conv["z"],
        conv["dt_bias"],
        softplus,
        conv["deltaA"],
        I,
        method,
        impl=impl,
    )
    return st, out


def _check(xp, impl, dtype, case, method, idx=None):
    want_state, want_out = selective_state_update_ref(
        case["state"],
        case["x"],
        case["dt"],
        case["A"],
        case["B"],
        case["C"],
        case["D"],
        case["z"],
        case["dt_bias"],
        True,
        case["deltaA"],
        idx,
        method,
    )
    st, out = _run(xp, impl, dtype, case, method, idx)
    sdt = testing.to_numpy(st).dtype.name
    testing.assert_close(st, testing.from_numpy(xp, want_state, sdt), err_msg="state")
    testing.assert_close(out, testing.from_numpy(xp, want_out, dtype), err_msg="out")


# ---- tier 1: the discretizations against SciPy / closed forms -------------------------------


@pytest.mark.parametrize("method,scipy_method", [("zoh", "zoh"), ("bilinear", "bilinear")])
def test_disc_matches_cont2discrete(method, scipy_method):
    for a, dt in ((-1.3, 0.2), (-0.01, 1.5), (-6.4, 1.0)):
        Ad, Bd, *_ = scipy.signal.cont2discrete(
            tuple(np.array([[v]]) for v in (a, 1.0, 1.0, 0.0)), dt, method=scipy_method
        )
        Abar, gamma = disc_ref(dt, dt, a, method)
        testing.assert_close(np.asarray([Abar, gamma]), np.asarray([Ad[0, 0], Bd[0, 0]]))


def test_bilinear_is_the_correct_one_not_exp():
    # spec §9 item 4: lrnnx's step gives e^{-6.4} = 0.0017 here; the bilinear map gives −0.52.
    Abar, _ = disc_ref(1.0, 1.0, -6.4, "bilinear")
    assert abs(Abar - (-2.2 / 4.2)) < 1e-14


def test_zoh_at_a_zero_is_euler():
    Abar, gamma = disc_ref(0.3, 0.3, 0.0, "zoh")
    assert Abar == 1.0 and gamma == 0.3


# ---- tier 3: every impl on every backend and dtype against the reference --------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("deltaA", [False, True])
def test_plain_matches_ref(backend_impl, real_dtype, rng, method, deltaA):
    xp, impl = backend_impl
    _check(xp, impl, real_dtype, _case(rng, method, P=16, N=4, deltaA=deltaA), method)


@pytest.mark.parametrize("method", COMPLEX_OK)
def test_complex_matches_ref(backend_impl, real_dtype, rng, method):
    xp, impl = backend_impl
    _check(xp, impl, real_dtype, _case(rng, method, nh=2, P=4, N=3, G=2, cplx=True), method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("G", [1, 2])
@pytest.mark.parametrize("tie", [False, True])
def test_heads_groups_tie_match_ref(backend_impl, real_dtype, rng, method, G, tie):
    xp, impl = backend_impl
    _check(xp, impl, real_dtype, _case(rng, method, nh=4, P=8, N=16, G=G, tie=tie), method)


@pytest.mark.parametrize("headed", [False, True])
def test_batch_indices_update_only_their_rows(backend_impl, rng, headed):
    xp, impl = backend_impl
    case = _case(rng, "mamba", Bsz=4, nh=2 if headed else None, P=4, N=8, rows=10)
    idx = np.array([7, 0, 3, 9], dtype=np.int32)
    _check(xp, impl, "float64", case, "mamba", idx)
    st, _ = _run(xp, impl, "float64", case, "mamba", idx)
    untouched = [r for r in range(10) if r not in idx]
    np.testing.assert_array_equal(testing.to_numpy(st)[untouched], case["state"][untouched])


def test_broadcast_stride0_views_as_tie_hdim(rng):
    case = _case(rng, "zoh", nh=2, P=8, N=4, tie=True)
    full = {
        k: (
            np.broadcast_to(v, np.broadcast_shapes(v.shape, case["x"].shape)) if k in ("dt",) else v
        )
        for k, v in case.items()
    }
    full["A"] = np.broadcast_to(case["A"], (2, 8, 4))
    full["dt_bias"] = np.broadcast_to(case["dt_bias"], (2, 8))
    s1, o1 = _run(np, "generic", "float64", case, "zoh")
    s2, o2 = _run(np, "generic", "float64", full, "zoh")
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(s1, s2)


def test_updates_in_place_and_returns_out(backend_impl, rng):
    xp, impl = backend_impl
    case = _case(rng, "mamba")
    st, out = _run(xp, impl, "float64", case, "mamba")
    assert tuple(out.shape) == case["x"].shape
    assert not np.allclose(testing.to_numpy(st), case["state"])


def test_reference_impl_mutates_too(rng):
    case = _case(rng, "zoh")
    st, out = _run(np, "reference", "float32", case, "zoh")
    want, _ = selective_state_update_ref(
        case["state"],
        case["x"],
        case["dt"],
        case["A"],
        case["B"],
        case["C"],
        case["D"],
        case["z"],
        case["dt_bias"],
        True,
        None,
        None,
        "zoh",
    )
    testing.assert_close(st, want.astype(np.float32))
    assert out.dtype == np.float32


# ---- step iterated L times == scan ----------------------------------------------------------


def _closed_form_gates(method, d, dA, A):
    """(Ā, γ) written out independently of the package (spec §2 table)."""
    if method == "zoh":
        return np.exp(dA * A), (np.exp(d * A) - 1) / A
    if method == "bilinear":
        return (1 + dA * A / 2) / (1 - dA * A / 2), d / (1 - d * A / 2)
    if method == "dirac":
        return np.exp(dA * A), np.ones_like(d * A)
    return np.exp(dA * A), d * np.ones_like(A)  # mamba


def _iterate(xp, impl, method, state, xs, dts, A, Bs, Cs, dAs=None):
    outs = []
    for t in range(xs.shape[-1]):
        outs.append(
            testing.to_numpy(
                ssu(
                    state,
                    testing.from_numpy(xp, xs[..., t]),
                    testing.from_numpy(xp, dts[..., t]),
                    testing.from_numpy(xp, A),
                    testing.from_numpy(xp, Bs[..., t]),
                    testing.from_numpy(xp, Cs[..., t]),
                    None,
                    None,
                    None,
                    False,
                    None if dAs is None else testing.from_numpy(xp, dAs[..., t]),
                    None,
                    method,
                    impl=impl,
                )
            )
        )
    return np.stack(outs, axis=-1), testing.to_numpy(state)


@pytest.mark.parametrize("method", ["zoh", "bilinear", "dirac", "mamba"])
@pytest.mark.parametrize("with_deltaA", [False, True])
def test_step_iterated_equals_scan_of_closed_form(backend_impl, rng, method, with_deltaA):
    xp, impl = backend_impl
    Bsz, D, N, L = 2, 3, 4, 9
    u = rng.standard_normal((Bsz, D, L))
    dt = rng.uniform(0.05, 0.8, (Bsz, D, L))
    dA = rng.uniform(0.05, 0.8, (Bsz, D, L)) if with_deltaA else None
    A = -rng.uniform(0.5, 3, (D, N))
    Bs, Cs = rng.standard_normal((Bsz, N, L)), rng.standard_normal((Bsz, N, L))
    h0 = rng.standard_normal((Bsz, D, N))
    ab, g = _closed_form_gates(
        method, dt[:, :, None, :], (dt if dA is None else dA)[:, :, None, :], A[None, :, :, None]
    )
    h = diag_scan_ref(ab, g * Bs[:, None] * u[:, :, None], h0)
    y = np.einsum("bdnl,bnl->bdl", h, Cs)
    outs, last = _iterate(xp, impl, method, testing.from_numpy(xp, h0), u, dt, A, Bs, Cs, dA)
    testing.assert_close(outs, y)
    testing.assert_close(last, h[..., -1])


def test_rglru_step_iterated_equals_rglru_scan(backend_impl, rng):
    xp, impl = backend_impl
    Bsz, D, N, L = 2, 3, 2, 11
    u = rng.standard_normal((Bsz, D, L))
    delta = 8 / (1 + np.exp(-rng.standard_normal((Bsz, D, L))))
    A = rng.uniform(0.9, 0.999, (D, N))
    h0 = rng.standard_normal((Bsz, D, N))
    y, last = rglru_scan_ref(u, delta, A, True, h0=h0)
    ones = np.ones((Bsz, N, L))  # lrnnx's RG-LRU step passes B = C = ones
    outs, st = _iterate(xp, impl, "rglru", testing.from_numpy(xp, h0), u, delta, A, ones, ones)
    testing.assert_close(outs, y)
    testing.assert_close(st, last)


def test_s7_step_iterated_equals_s7_scan(backend_impl, rng):
    xp, impl = backend_impl
    Bsz, H, N, L = 2, 3, 4, 10
    u = rng.standard_normal((Bsz, H, L))
    a = -0.5 + 0.5 * rng.standard_normal((Bsz, N, L))
    B, C = rng.standard_normal((Bsz, N, H, L)), rng.standard_normal((Bsz, H, N, L))
    bias = rng.standard_normal((Bsz, N, L))
    h0 = rng.standard_normal((Bsz, N))
    y, last = s7_scan_ref(u, a, B, C, bias, True, h0=h0)
    # lrnnx's S7 step: state (batch, N, 1), x = Bu, dt = a, A = zeros(N, 1), B = C = ones.
    bu = np.einsum("bnhl,bhl->bnl", B, u) + bias
    ones = np.ones((Bsz, 1, L))
    outs, st = _iterate(
        xp, impl, "s7", testing.from_numpy(xp, h0[..., None]), bu, a, np.zeros((N, 1)), ones, ones
    )
    testing.assert_close(np.einsum("bhnl,bnl->bhl", C, outs), y)
    testing.assert_close(st[..., 0], last)


@pytest.mark.parametrize("method", METHODS)
def test_step_iterated_equals_selective_scan(backend_impl, rng, method):
    from lrnnx_array._ops import selective_scan as sscan
    xp, impl = backend_impl
    Bsz, D, N, L = 2, 3, 4, 8
    u = rng.standard_normal((Bsz, D, L))
    delta = rng.uniform(0.05, 0.8, (Bsz, D, L))
    A = (
        -rng.uniform(0.5, 3, (D, N))
        if method not in ("rglru", "s7")
        else rng.uniform(0.5, 0.99, (D, N))
    )
    Bs, Cs = rng.standard_normal((Bsz, N, L)), rng.standard_normal((Bsz, N, L))
    Dp, z = rng.standard_normal(D), rng.standard_normal((Bsz, D, L))
    bias = rng.uniform(-1, 1, D)
    h0 = rng.standard_normal((Bsz, D, N))
    y, last = sscan.selective_scan(u, delta, A, Bs, Cs, Dp, z, bias, True, True, method, h0=h0)
    state = testing.from_numpy(xp, h0)
    outs = []
    for t in range(L):
        outs.append(
            testing.to_numpy(
                ssu(
                    state,
                    *(
                        testing.from_numpy(xp, v)
                        for v in (
                            u[..., t],
                            delta[..., t],
                            A,
                            Bs[..., t],
                            Cs[..., t],
                            Dp,
                            z[..., t],
                            bias,
                        )
                    ),
                    True,
                    None,
                    None,
                    method,
                    impl=impl,
                )
            )
        )
    testing.assert_close(np.stack(outs, -1), testing.to_numpy(y))
    testing.assert_close(testing.to_numpy(state), testing.to_numpy(last))


# ---- bad input ------------------------------------------------------------------------------


def _args(rng, **kw):
    c = _case(rng, "mamba", **kw)
    return [c[k] for k in ("state", "x", "dt", "A", "B", "C")]


def test_rejects_unknown_discretization(rng):
    with pytest.raises(ValueError, match="discretization must be one of"):
        ssu(*_args(rng), discretization="euler")


def test_rejects_complex_for_rglru_s7_and_real_state(rng):
    st, x, dt, A, B, C = _args(rng)
    with pytest.raises(TypeError, match="needs real state, A, B and C"):
        ssu(st + 0j, x, dt, np.full(A.shape, 0.5) + 0j, B, C, discretization="rglru")
    with pytest.raises(TypeError, match="needs real state"):
        ssu(st + 0j, x, dt, A, B, C, discretization="s7")
    with pytest.raises(TypeError, match="state must be complex when A is complex"):
        ssu(st, x, dt, A + 0j, B, C)
    with pytest.raises(TypeError, match="x must have a real floating dtype"):
        ssu(st, x + 0j, dt, A, B, C)
    with pytest.raises(TypeError, match="state must have a (real )?floating dtype"):
        ssu(st.astype(np.int64), x, dt, A, B, C)


def test_rejects_rglru_a_outside_unit_interval(rng):
    st, x, dt, A, B, C = _args(rng)
    with pytest.raises(ValueError, match=r"A in \(0, 1\]"):
        ssu(st, x, dt, A, B, C, discretization="rglru")


def test_rejects_shape_mismatches(rng):
    st, x, dt, A, B, C = _args(rng)
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        ssu(st, x[:, :, None], dt, A, B, C)
    with pytest.raises(ValueError, match="state must have batch 2"):
        ssu(np.concatenate([st, st]), x, dt, A, B, C)
    with pytest.raises(ValueError, match="dt with shape"):
        ssu(st, x, dt[:, :3], A, B, C)
    with pytest.raises(ValueError, match="A with shape"):
        ssu(st, x, dt, A[:, :2], B, C)
    with pytest.raises(ValueError, match="B must have shape"):
        ssu(st, x, dt, A, B[:, :2], C)
    with pytest.raises(ValueError, match="state must have 3 or 4 dimensions"):
        ssu(st[0], x, dt, A, B, C)
    hs, hx, hdt, hA, hB, hC = _args(rng, nh=3, G=1)
    with pytest.raises(ValueError, match="divisible by ngroups"):
        ssu(hs, hx, hdt, hA, np.ones((2, 2, 4)), np.ones((2, 2, 4)))
    with pytest.raises(ValueError, match="same number of groups"):
        ssu(hs, hx, hdt, hA, np.ones((2, 3, 4)), hC)


def test_rejects_bad_batch_indices(rng):
    st, x, dt, A, B, C = _args(rng, rows=5)
    with pytest.raises(TypeError, match="integer dtype"):
        ssu(st, x, dt, A, B, C, state_batch_indices=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 5\)"):
        ssu(st, x, dt, A, B, C, state_batch_indices=np.array([0, 5]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 5\)"):
        ssu(st, x, dt, A, B, C, state_batch_indices=np.array([-1, 2]))
    with pytest.raises(ValueError, match="must not repeat"):
        ssu(st, x, dt, A, B, C, state_batch_indices=np.array([2, 2]))
    with pytest.raises(ValueError, match="state_batch_indices must have shape"):
        ssu(st, x, dt, A, B, C, state_batch_indices=np.array([0, 1, 2]))


def test_rejects_non_finite_parameters(rng):
    st, x, dt, A, B, C = _args(rng)
    A[0, 0] = np.nan
    with pytest.raises(ValueError, match="A must be finite"):
        ssu(st, x, dt, A, B, C)


# ---- lrnnx's grid (spec §5, smaller dims by default; full sizes slow) -----------------------


@pytest.mark.slow
@pytest.mark.parametrize("D", [2048, 2064, 4096])
@pytest.mark.parametrize("N", [16, 32, 64])
@pytest.mark.parametrize("method", ["zoh", "bilinear", "dirac", "mamba"])
def test_lrnnx_grid_plain_float32(backend_impl, D, N, method):
    xp, impl = backend_impl
    rng = np.random.default_rng(0)
    _check(xp, impl, "float32", _case(rng, method, P=D, N=N), method)


@pytest.mark.slow
@pytest.mark.parametrize("G", [1, 2, 4])
@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("method", ["zoh", "bilinear", "dirac", "mamba"])
def test_lrnnx_grid_heads_float32(backend_impl, G, tie, method):
    xp, impl = backend_impl
    rng = np.random.default_rng(0)
    _check(xp, impl, "float32", _case(rng, method, nh=2048 // 64, P=64, N=16, G=G, tie=tie), method)
