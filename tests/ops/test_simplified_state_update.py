"""simplified_state_update: reference by hand, every impl vs reference, step iterated L times ==
scan, lrnnx's grid (slow), bad input."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops.simplified_state_update._ref import simplified_state_update_ref
from lrnnx_array.models.init import make_s5_params
from lrnnx_array.ops import s5_inner, simplified_scan, simplified_state_update

DISCS = ["bilinear", "zoh", "dirac"]
testing.add_override("s5_step_products", 20,
                     "one step is two products over H = 40..512 terms ((B,H)@(H,P), (B,P)@(P,H)) "
                     "in single precision: rounding grows with H")
testing.add_override("s5_closed_form", 1e-3,
                     "one float64 closed form evaluated two ways: rounding only (~1e-15)")
# lrnnx's own decode-step tolerance (spec §5), the loosest we accept, for its grid.
LRNNX_STEP_TOL = {"rtol": 3e-3, "atol": 5e-3}


def _cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _lrnnx_problem(rng, Bsz, H, P, *, dt_batched, has_D, has_deltaA):
    """lrnnx's test distribution (spec §5): dt = 0.1 U, A = -U + 0.1i N, B, C = N + 0.1i N."""
    dt = 0.1 * rng.uniform(size=(Bsz, P) if dt_batched else (P,))
    A = -rng.uniform(size=P) + 0.1j * rng.standard_normal(P)
    B = rng.standard_normal((P, H)) + 0.1j * rng.standard_normal((P, H))
    C = rng.standard_normal((H, P)) + 0.1j * rng.standard_normal((H, P))
    D = 0.1 * rng.standard_normal((H, H)) if has_D else None
    dA = 0.1 * rng.uniform(size=(Bsz, P)) if has_deltaA else None
    return dict(state=_cplx(rng, (Bsz, P)), x=rng.standard_normal((Bsz, H)), dt=dt, A=A, B=B,
                C=C, D=D, deltaA=dA)


def _to(xp, v, cdt):
    if v is None:
        return None
    rdt = {"complex64": "float32", "complex128": "float64"}[cdt]
    return testing.from_numpy(xp, v, cdt if np.iscomplexobj(v) else rdt)


def test_ref_by_hand(rng):
    pr = _lrnnx_problem(rng, 2, 3, 4, dt_batched=False, has_D=True, has_deltaA=True)
    s = pr["state"].copy()
    y = simplified_state_update_ref(s, pr["x"], pr["dt"], pr["A"], pr["B"], pr["C"], pr["D"],
                                    pr["deltaA"], "zoh", False)
    Ab = np.exp(pr["deltaA"] * pr["A"])
    gb = (np.exp(pr["dt"] * pr["A"]) - 1) / pr["A"]
    new = Ab * pr["state"] + gb * np.einsum("ph,bh->bp", pr["B"], pr["x"])
    testing.assert_close(s, new, override="s5_closed_form")
    want = np.einsum("hp,bp->bh", pr["C"], new).real + np.einsum("hk,bk->bh", pr["D"], pr["x"])
    testing.assert_close(y, want, override="s5_closed_form")


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dt_batched,has_D,has_deltaA,conj_sym",
                         [(False, False, False, True), (True, True, True, False),
                          (False, True, True, True), (True, False, False, False)])
def test_impl_matches_ref(backend_impl, complex_dtype, rng, disc, dt_batched, has_D,
                          has_deltaA, conj_sym):
    xp, impl = backend_impl
    pr = _lrnnx_problem(rng, 3, 40, 16, dt_batched=dt_batched, has_D=has_D,
                        has_deltaA=has_deltaA)
    want_s = pr["state"].copy()
    want_y = simplified_state_update_ref(want_s, pr["x"], pr["dt"], pr["A"], pr["B"], pr["C"],
                                         pr["D"], pr["deltaA"], disc, conj_sym)
    X = {k: _to(xp, v, complex_dtype) for k, v in pr.items()}
    state = X.pop("state")
    y = simplified_state_update(state, *X.values(), discretization=disc, conj_sym=conj_sym,
                                impl=impl)
    rdt = "float32" if complex_dtype == "complex64" else "float64"
    testing.assert_close(y, testing.from_numpy(xp, want_y, rdt), override="s5_step_products")
    testing.assert_close(state, testing.from_numpy(xp, want_s, complex_dtype),
                         override="s5_step_products")


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("event", [False, True])
def test_step_iterated_equals_scan(backend_impl, rng, disc, event):
    """L steps of the decode step reproduce s5_inner, state included (D = diag(d))."""
    xp, impl = backend_impl
    Bsz, H, P, L = 2, 8, 16, 23
    A, B, C, dt, d = make_s5_params(H, P)
    u = rng.standard_normal((Bsz, H, L))
    h0 = _cplx(rng, (Bsz, P))
    tau = rng.uniform(0.5, 2.0, (Bsz, L)) if event else None
    dA3 = None if tau is None else tau[:, None, :] * dt[None, :, None]
    c = lambda v: _to(xp, v, "complex128")  # noqa: E731
    want = s5_inner(*map(c, (u, dt, A, B, C, d)), c(dA3), disc, True, h0=c(h0), impl=impl)
    _, last = simplified_scan(*map(c, (u, dt, A, B, C)), c(dA3), True, disc, h0=c(h0), impl=impl)
    state = c(h0)
    ys = []
    for t in range(L):
        dA = None if tau is None else c(tau[:, t:t + 1] * dt[None, :])
        ys.append(simplified_state_update(state, c(u[:, :, t]), c(dt), c(A), c(B), c(C),
                                          c(np.diag(d)), dA, disc, True, impl=impl))
    out = xp.stack(ys, axis=2)
    testing.assert_close(out, want)
    testing.assert_close(state, last)


def test_large_H_has_no_race(backend_impl, rng):
    """H = 512 > 128 (lrnnx's tile): the state is updated exactly once."""
    xp, impl = backend_impl
    pr = _lrnnx_problem(rng, 2, 512, 16, dt_batched=True, has_D=False, has_deltaA=False)
    want_s = pr["state"].copy()
    simplified_state_update_ref(want_s, pr["x"], pr["dt"], pr["A"], pr["B"], pr["C"])
    X = {k: _to(xp, v, "complex128") for k, v in pr.items()}
    state = X.pop("state")
    simplified_state_update(state, *X.values(), impl=impl)
    testing.assert_close(state, testing.from_numpy(xp, want_s, "complex128"),
                         override="s5_step_products")


def test_state_of_other_dtype_is_updated_in_place(rng):
    pr = _lrnnx_problem(rng, 2, 5, 4, dt_batched=False, has_D=False, has_deltaA=False)
    state = pr.pop("state").astype(np.complex64)
    before = state.copy()
    y = simplified_state_update(state, *pr.values())
    assert y.dtype == np.float64 and state.dtype == np.complex64
    assert np.abs(state - before).max() > 0


@pytest.mark.slow
@pytest.mark.parametrize("H", [256, 272, 512])
@pytest.mark.parametrize("P", [16, 32, 64])
@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dt_batched", [False, True])
@pytest.mark.parametrize("has_D", [False, True])
@pytest.mark.parametrize("has_deltaA", [False, True])
@pytest.mark.parametrize("conj_sym", [False, True])
def test_lrnnx_grid(backend_impl, H, P, disc, dt_batched, has_D, has_deltaA, conj_sym):
    xp, impl = backend_impl
    rng = np.random.default_rng(0)
    pr = _lrnnx_problem(rng, 4, H, P, dt_batched=dt_batched, has_D=has_D, has_deltaA=has_deltaA)
    want_s = pr["state"].copy()
    want_y = simplified_state_update_ref(want_s, pr["x"], pr["dt"], pr["A"], pr["B"], pr["C"],
                                         pr["D"], pr["deltaA"], disc, conj_sym)
    X = {k: _to(xp, v, "complex64") for k, v in pr.items()}
    state = X.pop("state")
    y = simplified_state_update(state, *X.values(), discretization=disc, conj_sym=conj_sym,
                                impl=impl)
    testing.assert_close(y, testing.from_numpy(xp, want_y, "float32"), **LRNNX_STEP_TOL)
    testing.assert_close(state, testing.from_numpy(xp, want_s, "complex64"), **LRNNX_STEP_TOL)


def _good(rng):
    return _lrnnx_problem(rng, 2, 5, 4, dt_batched=False, has_D=True, has_deltaA=False)


def test_rejects_bad_input(rng):
    pr = _good(rng)
    args = lambda **kw: {**pr, **kw}  # noqa: E731
    with pytest.raises(TypeError, match="state must have a complex dtype"):
        simplified_state_update(**args(state=pr["state"].real))
    with pytest.raises(TypeError, match="x must have a real floating dtype"):
        simplified_state_update(**args(x=pr["x"] + 0j))
    with pytest.raises(TypeError, match="dt must have a real floating dtype"):
        simplified_state_update(**args(dt=np.ones(4, np.int32)))
    with pytest.raises(ValueError, match=r"B must have shape \(P, H\)"):
        simplified_state_update(**args(B=pr["B"][:, :2]))
    with pytest.raises(ValueError, match=r"D must have shape \(H, H\)"):
        simplified_state_update(**args(D=np.ones(5)))
    with pytest.raises(ValueError, match="dt must have shape"):
        simplified_state_update(**args(dt=np.ones(3)))
    with pytest.raises(ValueError, match="discretization must be one of"):
        simplified_state_update(**args(), discretization="mamba")
    A = pr["A"].copy()
    A[1] = np.inf
    with pytest.raises(ValueError, match="A must be finite"):
        simplified_state_update(**args(A=A))


# ---- issue 9's bad-input classes; every error leaves the state untouched --------------------


def _bad_calls(pr):
    """(what the message must name, exception, the call's arguments) for one bad input each."""
    i64 = np.zeros(pr["B"].shape, np.int64)
    cases = [(name, TypeError, {name: None}) for name in ("state", "x", "dt", "A", "B", "C")]
    cases += [("B", TypeError, {"B": i64}), ("x", TypeError, {"x": pr["x"] > 0}),
              ("state", TypeError, {"state": pr["state"].real.copy()}),
              ("dt", TypeError, {"dt": 0.1}), ("A", ValueError, {"A": pr["A"][:3]}),
              # H is read from x: an x with H = 1 does not broadcast, B's shape disagrees
              ("B must have shape", ValueError, {"x": pr["x"][:, :1]}),
              ("x", ValueError, {"x": pr["x"][:1]}),
              ("D", ValueError, {"D": np.ones(5)}), ("deltaA", ValueError,
                                                     {"deltaA": np.ones((3, 4))})]
    nan_A = pr["A"].copy()
    nan_A[0] = np.nan
    cases += [("A", ValueError, {"A": nan_A})]
    return cases


def test_every_bad_input_raises_by_name_and_leaves_the_state_untouched(rng):
    pr = _good(rng)
    for name, exc, change in _bad_calls(pr):
        args = {**pr, **change}
        state = args["state"]
        before = None if state is None else state.copy()
        with pytest.raises(exc, match=name):
            simplified_state_update(**args)
        if before is not None:
            np.testing.assert_array_equal(state, before)  # bit-identical: nothing half-written
    for flag in ("conj_sym", "check_finite"):
        for bad in ("False", 1, None):
            state = pr["state"].copy()
            with pytest.raises(TypeError, match=f"{flag} must be a bool"):
                simplified_state_update(**{**pr, "state": state}, **{flag: bad})
            np.testing.assert_array_equal(state, pr["state"])
    with pytest.raises(ValueError, match="discretization must be one of"):
        simplified_state_update(**pr, discretization="ZOH")
    ro = pr["state"].copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="state must be writeable"):
        simplified_state_update(**{**pr, "state": ro})


def test_numpy_bools_unchecked_parameters_and_float16(rng):
    pr = _good(rng)
    s1, s2 = pr["state"].copy(), pr["state"].copy()
    y1 = simplified_state_update(**{**pr, "state": s1}, conj_sym=np.True_)
    y2 = simplified_state_update(**{**pr, "state": s2}, conj_sym=True)
    testing.assert_close(y1, y2)
    testing.assert_close(s1, s2)
    bad = {**pr, "A": pr["A"].copy(), "state": pr["state"].copy()}
    bad["A"][0] = np.inf
    with np.errstate(all="ignore"):
        simplified_state_update(**bad, check_finite=False)  # accepted: the check is skipped
    half = {k: (v.astype(np.float16) if v is not None and not np.iscomplexobj(v) else v)
            for k, v in pr.items()}
    half["state"] = pr["state"].astype(np.complex64)
    for k in ("A", "B", "C"):
        half[k] = pr[k].astype(np.complex64)
    y = simplified_state_update(**half)
    assert y.dtype == np.float32 and half["state"].dtype == np.complex64


@pytest.mark.parametrize("dim", ["batch", "H", "P"])
def test_zero_size_dimensions_work(backend_impl, rng, dim):
    xp, impl = backend_impl
    n = {"batch": 2, "H": 3, "P": 4, dim: 0}
    pr = _lrnnx_problem(rng, n["batch"], n["H"], n["P"], dt_batched=False, has_D=True,
                        has_deltaA=False)
    want_s = pr["state"].copy()
    want_y = simplified_state_update_ref(want_s, *(pr[k] for k in ("x", "dt", "A", "B", "C",
                                                                   "D")))
    X = {k: _to(xp, v, "complex128") for k, v in pr.items()}
    state = X.pop("state")
    y = simplified_state_update(state, *X.values(), impl=impl)
    testing.assert_close(y, testing.from_numpy(xp, want_y, "float64"))
    testing.assert_close(state, testing.from_numpy(xp, want_s, "complex128"))
