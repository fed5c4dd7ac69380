"""simplified_scan / s5_inner: SciPy and closed forms for the reference, finite differences for
its VJPs, every impl vs the reference, properties, lrnnx's grids (slow) and bad input."""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array._ops.simplified_scan._ref import (
    discretize_ref,
    s5_inner_ref,
    s5_inner_vjp_ref,
    simplified_scan_ref,
    simplified_scan_vjp_ref,
)
from lrnnx_array.models.init import make_dplr_hippo, make_s5_params
from lrnnx_array.ops import (
    s5_inner,
    s5_inner_vjp,
    simplified_scan,
    simplified_scan_vjp,
)

DISCS = ["bilinear", "zoh", "dirac"]
testing.add_override("s5_float64_normwise", 5,
                     "float64 scans over up to 1100 steps and gradients reduced over B*L terms: "
                     "rounding grows with the number of terms summed")
testing.add_override("s5_closed_form", 1e-3,
                     "one float64 closed form evaluated two ways: rounding only (~1e-15)")
testing.add_override("s5_float64_loops", 0.1,
                     "two float64 loops over at most 40 steps (lfilter vs ours): ~1e-14 apart")
testing.add_override("s5_eigh", 100,
                     "eigh of a small HiPPO matrix: errors ~1e-13 of its norm, on entries near 0")
BSZ, H, P = 2, 8, 16
# L = 1, small, prime, above the CUDA chunk (512 complex64 steps) and the generic chunk (32).
LENGTHS = [1, 8, 67, 1100]
# lrnnx's float32 tolerances (spec §5, test_simplified_scan.py), the loosest we accept.
LRNNX_TOL = {"y": (3e-3, 5e-3), "du": (6e-3, 2.5e-2), "ddelta": (1.5e-2, 5e-2),
             "ddeltaA": (1.5e-2, 5e-2), "dA": (1e-3, 5e-3), "dB": (1e-3, 1e-3),
             "dC": (1e-3, 1e-3), "dD": (1e-3, 1e-3), "dh0": (1e-3, 1e-3), "last": (3e-3, 5e-3)}


def _cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _steps(rng, kind, L, lo=1e-3, hi=1e-1, dt=None):
    if kind == "P":
        return dt if dt is not None else rng.uniform(lo, hi, P)
    if kind == "BL":
        return rng.uniform(lo, hi, (BSZ, L))
    return rng.uniform(lo, hi, (BSZ, P, L))


def _problem(rng, L, *, conj_sym=True, delta="P", deltaA=None, h0=True):
    A, B, C, dt, D = make_s5_params(H, P, conj_sym=conj_sym, seed=42)
    d = _steps(rng, delta, L, dt=dt)
    dA = None if deltaA is None else _steps(rng, deltaA, L, 0.05, 0.5)
    return dict(u=_cplx(rng, (BSZ, H, L)), delta=d, A=A, B=B, C=C, D=D, deltaA=dA,
                h0=_cplx(rng, (BSZ, P)) if h0 else None)


def _to(xp, x, dtype):
    """NumPy -> backend, complex arrays at the complex dtype, real ones at its real partner."""
    if x is None:
        return None
    real = {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)
    cplx = {"float32": "complex64", "float64": "complex128"}.get(dtype, dtype)
    return testing.from_numpy(xp, x, cplx if np.iscomplexobj(x) else real)


def _check(got, want, dtype, name):
    """Against the float64 oracle: at single precision lrnnx's own (rtol, atol) with atol scaled
    by the largest reference entry (its bound, the loosest we accept); at double precision the
    table, normwise."""
    w = np.asarray(want)
    xp = testing.backend_namespace(testing._namespace_name(got))
    want_x = testing.from_numpy(xp, w, str(got.dtype).split(".")[-1])
    if dtype in ("float64", "complex128"):
        testing.assert_close(got, want_x, override="s5_float64_normwise", normwise=True,
                             err_msg=name)
        return
    rtol, atol = LRNNX_TOL[name]
    mag = max(1.0, float(np.max(np.abs(w)))) if w.size else 1.0
    testing.assert_close(got, want_x, rtol=rtol, atol=atol * mag, err_msg=name)


# ---- tier 1: the reference against SciPy and closed forms ---------------------------------


def test_hippo_init_matches_spec():
    from lrnnx_array.models.init import make_hippo, make_nplr_hippo

    np.testing.assert_allclose(make_hippo(3), -np.array([[1, 0, 0], [np.sqrt(3), 2, 0],
                                                         [np.sqrt(5), np.sqrt(15), 3]]))
    lam, _, _, V, _ = make_dplr_hippo(8)
    np.testing.assert_allclose(lam.real, -0.5)
    assert np.all(np.diff(lam.imag) >= 0)  # eigh order: the first half is the negative half
    testing.assert_close(lam.imag[:4], -lam.imag[::-1][:4], override="s5_eigh")  # conj-symmetric
    A, Pm, _ = make_nplr_hippo(8)
    # S = A + P P^T is -I/2 plus a skew-symmetric matrix, so V diag(Lambda) V^H recovers it.
    testing.assert_close(V @ np.diag(lam) @ V.conj().T, (A + np.outer(Pm, Pm)).astype(complex),
                         override="s5_eigh", normwise=True)


@pytest.mark.parametrize("disc,method", [("zoh", "zoh"), ("bilinear", "bilinear")])
def test_discretization_matches_cont2discrete(disc, method):
    for a, dt in [(-0.5 + 0j, 0.1), (-2.0 + 0j, 0.03), (-0.1 + 0j, 1.0)]:
        Ad, Bd, *_ = scipy.signal.cont2discrete(
            (np.array([[a.real]]), np.array([[1.0]]), np.array([[1.0]]), np.array([[0.0]])),
            dt, method=method)
        Ab, gb = discretize_ref(disc, np.array(a), np.array(dt), np.array(dt))
        testing.assert_close(Ab, np.asarray(Ad[0, 0], Ab.dtype), override="s5_closed_form")
        if disc == "zoh":
            testing.assert_close(gb, np.asarray(Bd[0, 0], gb.dtype), override="s5_closed_form")
        else:
            # SciPy's Tustin B is sqrt(dt)-balanced with C; the product is the same: B_d C_d.
            testing.assert_close(gb, np.asarray(dt / (1 - dt * a / 2)), override="s5_closed_form")


@pytest.mark.parametrize("disc", DISCS)
def test_ref_matches_lfilter_per_state(rng, disc):
    pr = _problem(rng, 40)
    y, last = simplified_scan_ref(pr["u"], pr["delta"], pr["A"], pr["B"], pr["C"], None, True,
                                  disc, h0=pr["h0"])
    Ab, gb = discretize_ref(disc, pr["A"], pr["delta"], pr["delta"])
    Bu = np.einsum("ph,bhl->bpl", pr["B"], pr["u"])
    x = np.zeros(Bu.shape, complex)
    for b in range(BSZ):
        for p in range(P):
            x[b, p], _ = scipy.signal.lfilter([1.0], [1.0, -Ab[p]], gb[p] * Bu[b, p],
                                              zi=[Ab[p] * pr["h0"][b, p]])
    testing.assert_close(y, np.einsum("hp,bpl->bhl", pr["C"], x), override="s5_float64_loops")
    testing.assert_close(last, x[..., -1], override="s5_float64_loops")


def test_s5_inner_ref_is_scaled_real_part_plus_D(rng):
    pr = _problem(rng, 9)
    y = simplified_scan_ref(pr["u"], pr["delta"], pr["A"], pr["B"], pr["C"], discretization="zoh")
    for cs, s in [(True, 2.0), (False, 1.0)]:
        out = s5_inner_ref(pr["u"], pr["delta"], pr["A"], pr["B"], pr["C"], pr["D"], None,
                           "zoh", cs)
        np.testing.assert_allclose(out, s * y.real + pr["D"][:, None] * pr["u"].real)


# ---- tier 2: reference VJPs against finite differences -------------------------------------


VJP_CASES = [("P", None), ("BL", None), ("BPL", None), ("P", "BPL"), ("BPL", "P"), ("P", "BL")]


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("delta,deltaA", VJP_CASES)
@pytest.mark.parametrize("real_u", [False, True])
def test_ref_vjp_finite_differences(rng, disc, delta, deltaA, real_u):
    Bsz, Hs, Ps, L = 2, 3, 4, 6
    A = -rng.uniform(0.2, 1.0, Ps) + 1j * rng.standard_normal(Ps)
    shapes = {"P": (Ps,), "BL": (Bsz, L), "BPL": (Bsz, Ps, L)}
    u = _cplx(rng, (Bsz, Hs, L))
    u = u.real if real_u else u
    d = rng.uniform(0.05, 0.3, shapes[delta])
    dA = None if deltaA is None else rng.uniform(0.05, 0.5, shapes[deltaA])
    prim = (u, d, A, _cplx(rng, (Ps, Hs)), _cplx(rng, (Hs, Ps)), dA, _cplx(rng, (Bsz, Ps)))

    def f(u, d, A, B, C, dA, h0):
        return simplified_scan_ref(u, d, A, B, C, dA, True, disc, h0=h0)

    def f_vjp(c, u, d, A, B, C, dA, h0):
        return simplified_scan_vjp_ref(c[0], u, d, A, B, C, dA, True, disc, h0=h0,
                                       dlast_state=c[1])

    testing.check_vjp(f, f_vjp, prim)
    Dv = rng.standard_normal(Hs)
    prim5 = prim[:5] + (Dv,) + prim[5:]

    def g(u, d, A, B, C, D, dA, h0):
        return s5_inner_ref(u, d, A, B, C, D, dA, disc, False, h0=h0)

    def g_vjp(c, u, d, A, B, C, D, dA, h0):
        return s5_inner_vjp_ref(c, u, d, A, B, C, D, dA, disc, False, h0=h0)

    testing.check_vjp(g, g_vjp, prim5)


def test_dirac_with_deltaA_has_zero_ddelta(rng):
    pr = _problem(rng, 5, deltaA="BPL")
    g = _cplx(rng, (BSZ, H, 5))
    gr = simplified_scan_vjp_ref(g, pr["u"], pr["delta"], pr["A"], pr["B"], pr["C"],
                                 pr["deltaA"], discretization="dirac")
    assert np.all(gr[1] == 0) and np.any(gr[5] != 0)


# ---- tier 3: every impl on every backend and dtype against the reference -------------------


def _run_all(xp, impl, dtype, pr, disc, rng, *, real_u=False):
    u = pr["u"].real if real_u else pr["u"]
    args = dict(u=u, delta=pr["delta"], A=pr["A"], B=pr["B"], C=pr["C"])
    g = _cplx(rng, (BSZ, H, u.shape[-1]))
    dl = _cplx(rng, (BSZ, P))
    want_y, want_last = simplified_scan_ref(*args.values(), pr["deltaA"], True, disc, h0=pr["h0"])
    want_g = simplified_scan_vjp_ref(g, *args.values(), pr["deltaA"], True, disc, h0=pr["h0"],
                                     dlast_state=dl)
    X = {k: _to(xp, v, dtype) for k, v in args.items()}
    dA_, h0_ = _to(xp, pr["deltaA"], dtype), _to(xp, pr["h0"], dtype)
    y, last = simplified_scan(*X.values(), dA_, True, disc, h0=h0_, impl=impl)
    _check(y, want_y, dtype, "y")
    _check(last, want_last, dtype, "last")
    got_g = simplified_scan_vjp(_to(xp, g, dtype), *X.values(), dA_, True, disc, h0=h0_,
                                dlast_state=_to(xp, dl, dtype), impl=impl)
    for name, gg, ww in zip(got_g._fields, got_g, want_g):
        if ww is None:
            assert gg is None, name
            continue
        assert tuple(gg.shape) == tuple(ww.shape), name
        _check(gg, ww, dtype, name)
    # s5_inner on the same inputs.
    gr = rng.standard_normal((BSZ, H, u.shape[-1]))
    want = s5_inner_ref(*args.values(), pr["D"], pr["deltaA"], disc, True, h0=pr["h0"])
    got = s5_inner(*X.values(), _to(xp, pr["D"], dtype), dA_, disc, True, h0=h0_, impl=impl)
    _check(got, want, dtype, "y")
    want_g = s5_inner_vjp_ref(gr, *args.values(), pr["D"], pr["deltaA"], disc, True, h0=pr["h0"])
    got_g = s5_inner_vjp(_to(xp, gr, dtype), *X.values(), _to(xp, pr["D"], dtype), dA_, disc,
                         True, h0=h0_, impl=impl)
    for name, gg, ww in zip(got_g._fields, got_g, want_g):
        if ww is not None:
            _check(gg, ww, dtype, name)


@pytest.mark.parametrize("L", LENGTHS)
@pytest.mark.parametrize("disc", DISCS)
def test_impl_matches_ref_lti(backend_impl, complex_dtype, rng, L, disc):
    xp, impl = backend_impl
    _run_all(xp, impl, complex_dtype, _problem(rng, L), disc, rng)


@pytest.mark.parametrize("delta,deltaA", [("BPL", None), ("BL", None), ("P", "BPL"),
                                          ("BPL", "BL"), ("P", "P")])
@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("L", [8, 600])
def test_impl_matches_ref_time_varying(backend_impl, rng, disc, delta, deltaA, L):
    xp, impl = backend_impl
    pr = _problem(rng, L, delta=delta, deltaA=deltaA)
    _run_all(xp, impl, "complex64", pr, disc, rng)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_real_u_gets_real_du(backend_impl, rng, dtype):
    xp, impl = backend_impl
    pr = _problem(rng, 33)
    _run_all(xp, impl, dtype, pr, "zoh", rng, real_u=True)
    g = simplified_scan_vjp(_to(xp, _cplx(rng, (BSZ, H, 33)), dtype), _to(xp, pr["u"].real, dtype),
                            _to(xp, pr["delta"], dtype), _to(xp, pr["A"], dtype),
                            _to(xp, pr["B"], dtype), _to(xp, pr["C"], dtype), impl=impl)
    assert not xp.isdtype(g.du.dtype, "complex floating")
    assert not xp.isdtype(g.ddelta.dtype, "complex floating")
    assert xp.isdtype(g.dA.dtype, "complex floating")


def test_A_as_column_and_output_dtypes(backend_impl, rng):
    xp, impl = backend_impl
    pr = _problem(rng, 10, h0=False)
    A2 = _to(xp, pr["A"][:, None], "complex64")
    args = [_to(xp, pr[k], "complex64") for k in ("u", "delta")]
    y = simplified_scan(*args, A2, _to(xp, pr["B"], "complex64"), _to(xp, pr["C"], "complex64"),
                        impl=impl)
    assert y.dtype == xp.complex64 and tuple(y.shape) == (BSZ, H, 10)
    g = simplified_scan_vjp(y, *args, A2, _to(xp, pr["B"], "complex64"),
                            _to(xp, pr["C"], "complex64"), impl=impl)
    assert tuple(g.dA.shape) == (P, 1) and g.dA.dtype == xp.complex64
    assert g.ddelta.dtype == xp.float32 and g.ddeltaA is None and g.dh0 is None


# ---- properties ----------------------------------------------------------------------------


def _x(xp, pr, *keys, dtype="complex128"):
    return [_to(xp, pr[k], dtype) for k in keys]


@pytest.mark.parametrize("disc", DISCS)
def test_deltaA_equal_to_delta_is_no_deltaA(backend_impl, rng, disc):
    xp, impl = backend_impl
    pr = _problem(rng, 128, delta="BPL")
    u, d, A, B, C = _x(xp, pr, "u", "delta", "A", "B", "C")
    y0 = simplified_scan(u, d, A, B, C, None, discretization=disc, impl=impl)
    y1 = simplified_scan(u, d, A, B, C, d, discretization=disc, impl=impl)
    testing.assert_close(y1, y0)
    y2 = simplified_scan(u, d, A, B, C, 2 * d, discretization=disc, impl=impl)
    assert float(xp.max(xp.abs(y2 - y0))) > 1e-6


def test_event_steps_equal_materialised_steps(backend_impl, rng):
    xp, impl = backend_impl
    pr = _problem(rng, 50, delta="BL", deltaA="BL")
    u, d, A, B, C, dA = _x(xp, pr, "u", "delta", "A", "B", "C", "deltaA")
    full = (BSZ, P, 50)
    dfull = xp.broadcast_to(d[:, None, :], full)
    dAfull = xp.broadcast_to(dA[:, None, :], full)
    for disc in DISCS:
        testing.assert_close(simplified_scan(u, d, A, B, C, dA, discretization=disc, impl=impl),
                             simplified_scan(u, dfull, A, B, C, dAfull, discretization=disc,
                                             impl=impl))
        g = xp.ones((BSZ, H, 50), dtype=xp.complex128)
        ge = simplified_scan_vjp(g, u, d, A, B, C, dA, discretization=disc, impl=impl)
        gf = simplified_scan_vjp(g, u, dfull, A, B, C, dAfull, discretization=disc, impl=impl)
        testing.assert_close(ge.ddelta, xp.sum(gf.ddelta, axis=1))
        testing.assert_close(ge.ddeltaA, xp.sum(gf.ddeltaA, axis=1))
        testing.assert_close(ge.dA, gf.dA)


@pytest.mark.parametrize("split", [1, 31, 600])
@pytest.mark.parametrize("delta", ["P", "BPL"])
def test_chunk_consistency_via_last_state(backend_impl, rng, split, delta):
    xp, impl = backend_impl
    pr = _problem(rng, 700, delta=delta)
    u, d, A, B, C, h0 = _x(xp, pr, "u", "delta", "A", "B", "C", "h0")
    full, last = simplified_scan(u, d, A, B, C, None, True, "zoh", h0=h0, impl=impl)
    cut = (lambda x, s: x[:, :, s]) if delta == "BPL" else (lambda x, s: x)
    y1, s1 = simplified_scan(u[:, :, :split], cut(d, slice(0, split)), A, B, C, None, True, "zoh",
                             h0=h0, impl=impl)
    y2, s2 = simplified_scan(u[:, :, split:], cut(d, slice(split, None)), A, B, C, None, True,
                             "zoh", h0=s1, impl=impl)
    testing.assert_close(xp.concat([y1, y2], axis=2), full)
    testing.assert_close(s2, last)


def test_zero_input_zero_state_gives_zero(backend_impl, rng):
    xp, impl = backend_impl
    pr = _problem(rng, 40)
    _, d, A, B, C = _x(xp, pr, "u", "delta", "A", "B", "C")
    y = simplified_scan(xp.zeros((BSZ, H, 40), dtype=xp.complex128), d, A, B, C, impl=impl)
    assert float(xp.max(xp.abs(y))) == 0.0


def test_linear_in_input(backend_impl, rng):
    xp, impl = backend_impl
    pr = _problem(rng, 45, h0=False)
    u, d, A, B, C = _x(xp, pr, "u", "delta", "A", "B", "C")
    u2 = _to(xp, _cplx(rng, (BSZ, H, 45)), "complex128")
    lhs = simplified_scan(2 * u - 3j * u2, d, A, B, C, impl=impl)
    rhs = 2 * simplified_scan(u, d, A, B, C, impl=impl) - 3j * simplified_scan(u2, d, A, B, C,
                                                                              impl=impl)
    testing.assert_close(lhs, rhs)


def test_last_state_is_the_true_state(rng):
    """lrnnx's return_last_state is garbage (spec §9.6); ours is x_{L-1} and takes a gradient."""
    pr = _problem(rng, 20)
    y, last = simplified_scan(pr["u"], pr["delta"], pr["A"], pr["B"], pr["C"], None, True,
                              h0=pr["h0"])
    # C x_{L-1} is the last output column.
    testing.assert_close(pr["C"] @ last.T, y[:, :, -1].T, override="s5_float64_loops")
    g0 = simplified_scan_vjp(np.zeros_like(y), pr["u"], pr["delta"], pr["A"], pr["B"], pr["C"],
                             None, True, h0=pr["h0"], dlast_state=np.ones((BSZ, P)))
    assert np.abs(g0.du).max() > 0 and np.abs(g0.dh0).max() > 0


# ---- lrnnx's own grids (slow) ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("L", [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 8192])
@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("async_", [False, True])
def test_lrnnx_grid(backend_impl, L, disc, async_):
    xp, impl = backend_impl
    rng = np.random.default_rng(42)
    pr = _problem(rng, L, delta="BPL" if not async_ else "BPL", deltaA="BPL" if async_ else None,
                  h0=False)
    pr["delta"] = np.broadcast_to(make_s5_params(H, P, seed=42)[3][None, :, None], (BSZ, P, L))
    _run_all(xp, impl, "complex64", pr, disc, rng)


@pytest.mark.slow
@pytest.mark.parametrize("conj_sym", [True, False])
@pytest.mark.parametrize("L", [8, 64, 512, 2048])
@pytest.mark.parametrize("disc", DISCS)
def test_lrnnx_s5_inner_grid(backend_impl, conj_sym, L, disc):
    xp, impl = backend_impl
    rng = np.random.default_rng(0)
    pr = _problem(rng, L, conj_sym=conj_sym, h0=False)
    _run_all(xp, impl, "complex64", pr, disc, rng)


# ---- bad input -----------------------------------------------------------------------------


def _good(rng):
    pr = _problem(rng, 6)
    return [pr[k] for k in ("u", "delta", "A", "B", "C")], pr["D"]


def test_rejects_bad_shapes(rng):
    (u, d, A, B, C), D = _good(rng)
    with pytest.raises(ValueError, match=r"B must have shape \(P, H\)"):
        simplified_scan(u, d, A, B[:, :3], C)
    with pytest.raises(ValueError, match=r"C must have shape \(H, P\)"):
        simplified_scan(u, d, A, B, C.T)
    with pytest.raises(ValueError, match="u must have 3 dimensions"):
        simplified_scan(u[0], d, A, B, C)
    with pytest.raises(ValueError, match=r"delta with shape \(5,\) must be \(P,\)"):
        simplified_scan(u, d[:5], A, B, C)
    with pytest.raises(ValueError, match="deltaA with shape"):
        simplified_scan(u, d, A, B, C, np.ones((BSZ, P, 7)))
    with pytest.raises(ValueError, match=r"D must have shape \(H,\)"):
        s5_inner(u, d, A, B, C, np.ones(H + 1))
    with pytest.raises(ValueError, match="h0 with shape"):
        simplified_scan(u, d, A, B, C, h0=np.ones((BSZ, P + 1), complex))
    with pytest.raises(ValueError, match="dout must have shape"):
        simplified_scan_vjp(u[:, :, :2], u, d, A, B, C)


def test_rejects_unknown_discretization_and_dtypes(rng):
    (u, d, A, B, C), D = _good(rng)
    with pytest.raises(ValueError, match="discretization must be one of"):
        simplified_scan(u, d, A, B, C, discretization="mamba")
    with pytest.raises(TypeError, match="u must have a floating dtype"):
        simplified_scan(np.ones(u.shape, np.int64), d, A, B, C)
    with pytest.raises(TypeError, match="delta must have a real floating dtype"):
        simplified_scan(u, d + 0j, A, B, C)
    with pytest.raises(TypeError, match="D must have a real floating dtype"):
        s5_inner(u, d, A, B, C, D + 0j)


def test_rejects_non_finite_parameters(rng):
    (u, d, A, B, C), D = _good(rng)
    A = A.copy()
    A[0] = np.nan
    with pytest.raises(ValueError, match="A must be finite"):
        simplified_scan(u, d, A, B, C)


def test_rejects_cuda_on_numpy_and_reference_on_other_backends(rng):
    (u, d, A, B, C), _ = _good(rng)
    with pytest.raises(ValueError, match="impl='cuda' needs CuPy arrays"):
        simplified_scan(u, d, A, B, C, impl="cuda")
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(ValueError, match="NumPy-only"):
        simplified_scan(*(xps.asarray(x) for x in (u, d, A, B, C)), impl="reference")


# ---- issue 9's bad-input classes, for the four S5 functions --------------------------------


def _calls(rng):
    """name -> (function, positional args as a dict in signature order, keyword flags)."""
    (u, d, A, B, C), D = _good(rng)
    h0 = _cplx(rng, (BSZ, P))
    scan = dict(u=u, delta=d, A=A, B=B, C=C)
    inner = dict(u=u, delta=d, A=A, B=B, C=C, D=D)
    return {
        "simplified_scan": (simplified_scan, scan, {"h0": h0}),
        "simplified_scan_vjp": (simplified_scan_vjp, {"dout": _cplx(rng, u.shape), **scan},
                                {"h0": h0}),
        "s5_inner": (s5_inner, inner, {"h0": h0}),
        "s5_inner_vjp": (s5_inner_vjp, {"dout": rng.standard_normal(u.shape), **inner},
                         {"h0": h0}),
    }


FUNCS = ["simplified_scan", "simplified_scan_vjp", "s5_inner", "s5_inner_vjp"]
FLAGS = {"simplified_scan": "return_last_state", "simplified_scan_vjp": "return_last_state",
         "s5_inner": "conj_sym", "s5_inner_vjp": "conj_sym"}


@pytest.mark.parametrize("fname", FUNCS)
def test_none_for_a_required_array_names_it(rng, fname):
    fn, args, kw = _calls(rng)[fname]
    for name in args:
        with pytest.raises(TypeError, match=f"{name} is required"):
            fn(**{**args, name: None}, **kw)


@pytest.mark.parametrize("fname", FUNCS)
def test_integer_bool_and_scalar_arrays_are_rejected_by_name(rng, fname):
    fn, args, kw = _calls(rng)[fname]
    for name, v in args.items():
        for bad in (np.zeros(v.shape, np.int64), np.zeros(v.shape, bool)):
            with pytest.raises(TypeError, match=f"{name} must have a"):
                fn(**{**args, name: bad}, **kw)
        with pytest.raises(TypeError, match=f"{name} must be an array"):
            fn(**{**args, name: 1.0}, **kw)


@pytest.mark.parametrize("fname", FUNCS)
def test_flags_are_real_bools(rng, fname):
    fn, args, kw = _calls(rng)[fname]
    flag = FLAGS[fname]
    for bad in ("False", 1, None, np.array([True, True])):
        with pytest.raises(TypeError, match=f"{flag} must be a bool"):
            fn(**args, **kw, **{flag: bad})
        with pytest.raises(TypeError, match="check_finite must be a bool"):
            fn(**args, **kw, check_finite=bad)
    a = fn(**args, **kw, **{flag: np.True_})
    b = fn(**args, **kw, **{flag: True})
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        if x is not None:
            testing.assert_close(x, y)


@pytest.mark.parametrize("fname", FUNCS)
def test_non_finite_parameters_rejected_unless_unchecked(rng, fname):
    fn, args, kw = _calls(rng)[fname]
    for name in ("delta", "A", "B", "C", "D"):
        if name not in args:
            continue
        bad = args[name].copy()
        bad.flat[0] = np.inf
        with pytest.raises(ValueError, match=f"{name} must be finite"):
            fn(**{**args, name: bad}, **kw)
        with np.errstate(all="ignore"):  # skipped: no error, the inf just propagates
            fn(**{**args, name: bad}, **kw, check_finite=False)


@pytest.mark.parametrize("fname", FUNCS)
def test_float16_computes_in_float32_and_nothing_is_demoted(rng, fname):
    fn, args, kw = _calls(rng)[fname]

    def kinds(out):
        outs = out if isinstance(out, tuple) else (out,)
        return {str(o.dtype) for o in outs if o is not None}

    real16 = {k: (v.astype(np.float16) if not np.iscomplexobj(v) else v.astype(np.complex64))
              for k, v in args.items()}
    assert kinds(fn(**real16, **{k: v.astype(np.complex64) for k, v in kw.items()})) <= {
        "float32", "complex64"}
    mixed = {k: (v.astype(np.float32) if not np.iscomplexobj(v) else v) for k, v in args.items()}
    assert kinds(fn(**mixed, **kw)) <= {"float64", "complex128"}  # complex128 A/B/C promote


@pytest.mark.parametrize("fname", FUNCS)
@pytest.mark.parametrize("dim", ["L", "batch", "H", "P"])
def test_zero_size_dimensions_work(backend_impl, rng, fname, dim):
    xp, impl = backend_impl
    sizes = {"batch": 2, "H": 3, "P": 4, "L": 5, dim: 0}
    Bs, Hs, Ps, L = sizes["batch"], sizes["H"], sizes["P"], sizes["L"]
    u = rng.standard_normal((Bs, Hs, L))
    prim = dict(u=u, delta=rng.uniform(0.1, 0.5, Ps), A=-rng.uniform(0.1, 1, Ps) + 1j,
                B=_cplx(rng, (Ps, Hs)), C=_cplx(rng, (Hs, Ps)))
    if fname.startswith("s5"):
        prim["D"] = rng.standard_normal(Hs)
    if fname.endswith("vjp"):
        prim = {"dout": rng.standard_normal(u.shape), **prim}
    fn = _calls(rng)[fname][0]
    X = {k: _to(xp, v, "complex128") for k, v in prim.items()}
    h0 = _to(xp, _cplx(rng, (Bs, Ps)), "complex128")
    out = fn(**X, h0=h0, impl=impl)
    outs = out if isinstance(out, tuple) else (out,)
    want = fn(**prim, h0=testing.to_numpy(h0), impl="reference") if impl != "reference" else out
    for o, w in zip(outs, want if isinstance(want, tuple) else (want,)):
        if o is not None:
            testing.assert_close(o, _to(xp, testing.to_numpy(w), str(o.dtype).split(".")[-1]))
    if dim == "L" and fname == "simplified_scan":
        _, last = simplified_scan(**X, return_last_state=True, h0=h0, impl=impl)
        testing.assert_close(last, h0)  # no step: the last state is h0
    if dim == "L" and fname == "simplified_scan_vjp":
        g = simplified_scan_vjp(**X, h0=h0, dlast_state=h0, impl=impl)
        testing.assert_close(g.dh0, h0)  # ... and its cotangent passes straight to h0


@pytest.mark.parametrize("steps", ["P", "BL", "BPL"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_does_not_travel_back_in_time(backend_impl, rng, steps, bad):
    xp, impl = backend_impl
    L, t0 = 70, 41  # t0 inside a chunk of every impl (generic T ~ sqrt(L), CUDA 256-512)
    pr = _problem(rng, L, delta=steps)
    u = pr["u"].copy()
    u[0, 1, t0] = bad
    cut = (lambda d, s: d[..., s]) if steps != "P" else (lambda d, s: d)
    c = lambda v: _to(xp, v, "complex128")  # noqa: E731
    args = [c(pr[k]) for k in ("A", "B", "C")]
    with np.errstate(all="ignore"):  # inf * 0 in B @ u is the expected NaN of that step
        y = simplified_scan(c(u), c(pr["delta"]), *args, h0=c(pr["h0"]), impl=impl)
    y0 = simplified_scan(c(u[:, :, :t0]), c(cut(pr["delta"], slice(0, t0))), *args,
                         h0=c(pr["h0"]), impl=impl)
    testing.assert_close(y[:, :, :t0], y0)
    with np.errstate(all="ignore"):
        out = s5_inner(c(u), c(pr["delta"]), *args, c(pr["D"]), h0=c(pr["h0"]), impl=impl)
    out0 = s5_inner(c(u[:, :, :t0]), c(cut(pr["delta"], slice(0, t0))), *args, c(pr["D"]),
                    h0=c(pr["h0"]), impl=impl)
    testing.assert_close(out[:, :, :t0], out0)
    # ... and it stays in its batch row.
    assert bool(xp.all(xp.isfinite(y[1, ...])))


def test_zoh_accepts_A_zero_with_the_limit_gamma_equal_delta(rng):
    (u, d, A, B, C), _ = _good(rng)
    A0 = A.copy()
    A0[0] = 0
    for impl in ("generic", "reference"):
        y = simplified_scan(u, d, A0, B, C, discretization="zoh", impl=impl)
        assert np.all(np.isfinite(y))
    testing.assert_close(simplified_scan(u, d, A0, B, C, discretization="zoh"),
                         simplified_scan(u, d, A0, B, C, discretization="zoh", impl="reference"))
