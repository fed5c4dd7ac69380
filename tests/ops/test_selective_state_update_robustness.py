"""selective_state_update: issue 9's bad-input classes for the decode step, the state left
untouched on every error path, and the accuracy at tiny steps against the float64 oracle."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops.selective_state_update._ref import selective_state_update_ref
from lrnnx_array.ops import selective_state_update as ssu

ORDER = ("state", "x", "dt", "A", "B", "C", "D", "z", "dt_bias")
REQUIRED = ORDER[:6]


def _args(seed=0, *, Bsz=2, P=4, N=3, rows=None, method="mamba"):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.5, 0.99, (P, N)) if method == "rglru" else -rng.uniform(0.5, 2, (P, N))
    return dict(state=rng.standard_normal((rows or Bsz, P, N)), x=rng.standard_normal((Bsz, P)),
                dt=rng.uniform(0, 0.5, (Bsz, P)), A=A, B=rng.standard_normal((Bsz, N)),
                C=rng.standard_normal((Bsz, N)), D=rng.standard_normal(P),
                z=rng.standard_normal((Bsz, P)), dt_bias=rng.uniform(-2, -1, P))


def _call(a, **kw):
    return ssu(*(a[k] for k in ORDER), **kw)


# ---- None, flags, dtypes -------------------------------------------------------------------


@pytest.mark.parametrize("name", REQUIRED)
def test_none_for_a_required_array_names_it(name):
    a = _args()
    a[name] = None
    with pytest.raises(TypeError, match=rf"\b{name} is required"):
        _call(a)


def test_softplus_flag_accepts_numpy_bools_and_rejects_others():
    a, b = _args(), _args()
    np.testing.assert_array_equal(_call(a, dt_softplus=np.True_), _call(b, dt_softplus=True))
    np.testing.assert_array_equal(a["state"], b["state"])
    for bad in ("False", 1, None, np.array([True])):
        c = _args()
        before = c["state"].copy()
        with pytest.raises(TypeError, match="dt_softplus must be a bool"):
            _call(c, dt_softplus=bad)
        np.testing.assert_array_equal(c["state"], before)


@pytest.mark.parametrize("name", ORDER)
@pytest.mark.parametrize("kind", [np.int64, np.bool_])
def test_integer_and_bool_arrays_raise_type_error(name, kind):
    a = _args()
    before = a["state"].copy()
    a[name] = a[name].astype(kind)
    with pytest.raises(TypeError, match=rf"\b{name} must have a"):
        _call(a)
    if name != "state":
        np.testing.assert_array_equal(a["state"], before)


def test_float16_computes_in_float32_and_keeps_the_state_dtype():
    a = {k: v.astype(np.float16) for k, v in _args().items()}
    want_state, want = selective_state_update_ref(*(a[k] for k in ORDER))
    out = _call(a)
    assert out.dtype == np.float32 and a["state"].dtype == np.float16
    testing.assert_close(out, want.astype(np.float32))


@pytest.mark.parametrize("name", ["x", "A", "state"])
def test_mixed_precision_promotes(name):
    a = {k: v.astype(np.float32) for k, v in _args().items()}
    a[name] = a[name].astype(np.float64)
    assert _call(a).dtype == np.float64


# ---- shapes: no silent broadcast, zero sizes -----------------------------------------------


def test_x_with_dim_1_is_not_broadcast():
    a = _args()
    a["x"] = a["x"][:, :1]
    before = a["state"].copy()
    with pytest.raises(ValueError, match=r"x must have shape"):
        _call(a)
    np.testing.assert_array_equal(a["state"], before)


@pytest.mark.parametrize("dim", ["Bsz", "P", "N"])
@pytest.mark.parametrize("impl", ["reference", "generic"])
def test_zero_size_dimensions_work(dim, impl):
    sizes = dict(Bsz=2, P=4, N=3)
    sizes[dim] = 0
    a = _args(**sizes)
    out = _call(a, impl=impl)
    assert out.shape == a["x"].shape


def test_zero_batch_with_indices():
    a = _args(Bsz=0, rows=3)
    before = a["state"].copy()
    out = _call(a, state_batch_indices=np.zeros(0, dtype=np.int64))
    assert out.shape == (0, 4)
    np.testing.assert_array_equal(a["state"], before)


# ---- state handling: complex state, read-only state, untouched on errors --------------------


def test_complex_state_with_real_parameters_rejected():
    a = _args()
    a["state"] = a["state"] + 0j
    before = a["state"].copy()
    with pytest.raises(TypeError, match="state is complex .* but A, B and C are real"):
        _call(a)
    np.testing.assert_array_equal(a["state"], before)


def test_read_only_state_rejected_by_name():
    a = _args()
    a["state"].setflags(write=False)
    with pytest.raises(ValueError, match="state must be writable"):
        _call(a)


def _bad_calls():
    """(description, overrides, kwargs, exception) for calls that must raise."""
    return [
        ("A NaN", dict(A=np.full((4, 3), np.nan)), {}, ValueError),
        ("D NaN", dict(D=np.full(4, np.inf)), {}, ValueError),
        ("dt_bias NaN", dict(dt_bias=np.full(4, np.nan)), {}, ValueError),
        ("B wrong N", dict(B=np.ones((2, 5))), {}, ValueError),
        ("dt too long", dict(dt=np.ones((2, 5))), {}, ValueError),
        ("unknown method", {}, dict(discretization="euler"), ValueError),
        ("unknown impl", {}, dict(impl="fast"), ValueError),
        ("cuda on numpy", {}, dict(impl="cuda"), ValueError),
        ("rglru A > 1", {}, dict(discretization="rglru"), ValueError),
        ("indices repeat", {}, dict(state_batch_indices=np.array([1, 1])), ValueError),
        ("indices out of range", {}, dict(state_batch_indices=np.array([0, 2])), ValueError),
        ("indices float", {}, dict(state_batch_indices=np.array([0.0, 1.0])), TypeError),
        ("C complex", dict(C=np.ones((2, 3), complex)), {}, TypeError),
        ("x list", dict(x=[[1.0] * 4] * 2), {}, TypeError),
    ]


@pytest.mark.parametrize("impl", ["reference", "generic"])
@pytest.mark.parametrize("case", range(len(_bad_calls())), ids=[c[0] for c in _bad_calls()])
def test_state_untouched_on_every_error_path(impl, case):
    _, overrides, kw, exc = _bad_calls()[case]
    a = _args()
    a.update(overrides)
    before = a["state"].copy()
    kw = dict(dict(impl=impl), **kw)
    with pytest.raises(exc):
        _call(a, **kw)
    np.testing.assert_array_equal(a["state"], before)


def test_value_checks_only_under_check_finite():
    a = _args()
    a["dt_bias"] = np.full(4, np.nan)
    with np.errstate(all="ignore"):
        out = _call(a, check_finite=False)
    assert np.isnan(out).all()
    b = _args(rows=3)
    with np.errstate(all="ignore"):
        _call(b, state_batch_indices=np.array([2, 2]), check_finite=False)
    with pytest.raises(TypeError, match="check_finite must be a bool"):
        _call(_args(), check_finite="no")


# ---- accuracy at tiny steps and eigenvalues near 0 -----------------------------------------


@pytest.mark.parametrize("dt", [1e-3, 1e-8, 1e-30])
@pytest.mark.parametrize("method,cplx", [(m, False) for m in ("mamba", "zoh", "bilinear",
                                                              "dirac", "rglru")]
                         + [("zoh", True), ("bilinear", True)])
def test_tiny_steps_match_the_float64_oracle(backend_impl, real_dtype, method, cplx, dt):
    """From a zero state the new state is the input term γ·B·x alone (γ ~ Δ), so the normwise
    comparison measures γ's accuracy (an O(1) state would hide it under its own rounding)."""
    xp, impl = backend_impl
    rng = np.random.default_rng(5)
    Bsz, P, N = 2, 3, 4
    if method == "rglru":
        A = np.array([[0.999, 0.9, 0.5, 1 - 1e-7]] * P)
    else:  # eigenvalues down to -1e-8, and near 0 with a large imaginary part
        A = -np.array([[1e-8, 1e-6, 0.5, 2.0]] * P)
        if cplx:
            A = A + 1j * np.array([[1e-7, 3.0, 0.0, 1.0]] * P)
    a = dict(state=np.zeros((Bsz, P, N), complex if cplx else float),
             x=rng.standard_normal((Bsz, P)), dt=np.full((Bsz, P), dt), A=A,
             B=rng.standard_normal((Bsz, N)), C=rng.standard_normal((Bsz, N)))
    ct = {"float32": "complex64", "float64": "complex128"}[real_dtype]

    def kind(v):
        return ct if np.iscomplexobj(v) else real_dtype

    rounded = {k: testing.from_numpy(np, v, kind(v)) for k, v in a.items()}
    want_state, want = selective_state_update_ref(*(rounded[k] for k in REQUIRED),
                                                  discretization=method)
    X = {k: testing.from_numpy(xp, v, kind(v)) for k, v in a.items()}
    out = ssu(*(X[k] for k in REQUIRED), discretization=method, impl=impl)
    for got, w, name in ((out, want, "out"), (X["state"], want_state, "state")):
        scale = float(np.max(np.abs(w))) or 1.0
        testing.assert_close(got / scale, testing.from_numpy(xp, w / scale, kind(w)),
                             err_msg=name)
