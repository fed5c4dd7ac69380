"""selective_scan(_vjp): the bad-input classes of issue 9 and the accuracy at tiny steps.

Each class is probed on every public function of the family: None for a required array or
cotangent, flags, integer/bool arrays, float16, mixed precision, zero-size dimensions, NaN
causality, the check_finite gate, and tiny Δ·A / eigenvalues near 0 against the float64 oracle.
"""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.ops import selective_scan, selective_scan_vjp

ARRAYS = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias", "deltaA", "h0")
REQUIRED = ("u", "delta", "A", "B", "C")
METHODS = ("mamba", "zoh", "bilinear", "dirac", "s7", "rglru")


def _args(seed=0, *, Bsz=2, Dm=4, N=3, L=6, method="mamba"):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.5, 0.95, (Dm, N)) if method == "rglru" else -rng.uniform(0.5, 2, (Dm, N))
    return dict(
        u=rng.standard_normal((Bsz, Dm, L)), delta=rng.uniform(0.1, 1, (Bsz, Dm, L)), A=A,
        B=rng.standard_normal((Bsz, N, L)), C=rng.standard_normal((Bsz, N, L)),
        D=rng.standard_normal(Dm), z=rng.standard_normal((Bsz, Dm, L)),
        delta_bias=rng.uniform(-1, 0, Dm), deltaA=rng.uniform(0.1, 1, (Bsz, Dm, L)),
        h0=rng.standard_normal((Bsz, Dm, N)),
    )


def _fwd(a, **kw):
    kw.setdefault("return_last_state", True)
    return selective_scan(*(a[k] for k in REQUIRED), D=a["D"], z=a["z"],
                          delta_bias=a["delta_bias"], deltaA=a["deltaA"], h0=a["h0"], **kw)


def _vjp(a, dout, **kw):
    return selective_scan_vjp(dout, *(a[k] for k in REQUIRED), D=a["D"], z=a["z"],
                              delta_bias=a["delta_bias"], deltaA=a["deltaA"], h0=a["h0"], **kw)


def _dout(a):
    return np.random.default_rng(9).standard_normal(a["u"].shape)


def _close_normwise(got, want, dtype, xp, name=""):
    """Table tolerance relative to the largest reference entry (outputs at tiny steps are tiny,
    so a plain atol would pass anything)."""
    scale = float(np.max(np.abs(want))) or 1.0
    testing.assert_close(got / scale, testing.from_numpy(xp, want / scale, dtype), err_msg=name)


# ---- None, flags, integer arrays, numbers --------------------------------------------------


@pytest.mark.parametrize("name", REQUIRED)
def test_none_for_a_required_array_names_it(name):
    a = _args()
    a[name] = None
    with pytest.raises(TypeError, match=rf"\b{name} is required"):
        _fwd(a)
    with pytest.raises(TypeError, match=rf"\b{name} is required"):
        _vjp(a, _dout(_args()))


def test_none_cotangent_names_it():
    with pytest.raises(TypeError, match="dout is required"):
        _vjp(_args(), None)


@pytest.mark.parametrize("flag", ["delta_softplus", "return_last_state"])
def test_flags_accept_numpy_bools_and_reject_others(flag):
    a = _args()
    want = _fwd(a, **{flag: True})
    got = _fwd(a, **{flag: np.True_})
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    testing.assert_close(_vjp(a, _dout(a), **{flag: np.True_}).du,
                         _vjp(a, _dout(a), **{flag: True}).du)
    for bad in ("False", 1, None, np.array([True, True])):
        with pytest.raises(TypeError, match=f"{flag} must be a bool"):
            _fwd(a, **{flag: bad})
        with pytest.raises(TypeError, match=f"{flag} must be a bool"):
            _vjp(a, _dout(a), **{flag: bad})


@pytest.mark.parametrize("bad", [None, 1, "zoh ", "ZOH"])
def test_unknown_discretization_rejected(bad):
    with pytest.raises(ValueError, match="discretization must be one of"):
        _fwd(_args(), discretization=bad)


@pytest.mark.parametrize("name", ARRAYS)
@pytest.mark.parametrize("kind", [np.int64, np.bool_])
def test_integer_and_bool_arrays_raise_type_error(name, kind):
    a = _args()
    a[name] = a[name].astype(kind)
    with pytest.raises(TypeError, match=rf"\b{name} must have a"):
        _fwd(a)
    with pytest.raises(TypeError, match=rf"\b{name} must have a"):
        _vjp(a, _dout(_args()))


@pytest.mark.parametrize("name", ["u", "A", "h0"])
def test_python_scalars_and_lists_rejected(name):
    a = _args()
    a[name] = a[name].tolist()
    with pytest.raises(TypeError, match=f"{name} must be an array"):
        _fwd(a)


# ---- precision -----------------------------------------------------------------------------


def test_float16_computes_and_returns_float32():
    a = {k: v.astype(np.float16) for k, v in _args().items()}
    out, last = _fwd(a)
    assert out.dtype == np.float32 and last.dtype == np.float32
    g = _vjp(a, _dout(a).astype(np.float16))
    assert all(x.dtype == np.float32 for x in g)


@pytest.mark.parametrize("name", ["u", "A", "B", "h0"])
def test_mixed_precision_promotes(name):
    a = {k: v.astype(np.float32) for k, v in _args().items()}
    a[name] = a[name].astype(np.float64)
    out, last = _fwd(a)
    assert out.dtype == np.float64 and last.dtype == np.float64
    assert all(x.dtype == np.float64 for x in _vjp(a, _dout(a)))


# ---- zero-size dimensions ------------------------------------------------------------------


@pytest.mark.parametrize("dim", ["Bsz", "Dm", "N", "L"])
@pytest.mark.parametrize("impl", ["reference", "generic"])
def test_zero_size_dimensions_work(dim, impl):
    sizes = dict(Bsz=2, Dm=4, N=3, L=6)
    sizes[dim] = 0
    a = _args(**sizes)
    out, last = _fwd(a, impl=impl)
    assert out.shape == a["u"].shape and last.shape == a["h0"].shape
    if dim == "L":  # no steps: the last state is h0
        np.testing.assert_array_equal(last, a["h0"])
    g = _vjp(a, _dout(a), impl=impl, dlast_state=np.ones(a["h0"].shape))
    for name, x in zip(ARRAYS, g):
        assert x.shape == a[name].shape, name
    if dim == "L":
        np.testing.assert_array_equal(g.dh0, np.ones(a["h0"].shape))


# ---- NaN causality and the check_finite gate -----------------------------------------------


@pytest.mark.parametrize("impl", ["reference", "generic"])
@pytest.mark.parametrize("name", ["u", "delta", "z", "B", "deltaA"])
@pytest.mark.parametrize("method", ["mamba", "zoh"])
def test_nan_does_not_travel_backwards_in_time(impl, name, method):
    a = _args(L=40, method=method)
    t0 = 23
    clean, _ = _fwd({k: (v[..., :t0] if k in ("u", "delta", "z", "B", "C", "deltaA") else v)
                     for k, v in a.items()}, impl=impl, discretization=method)
    for bad in (np.nan, np.inf):
        a[name] = a[name].copy()
        a[name][..., t0] = bad
        with np.errstate(all="ignore"):  # NumPy warns about the NaN it propagates
            out, _ = _fwd(a, impl=impl, discretization=method)
        np.testing.assert_array_equal(out[..., :t0], clean)


def test_nan_causality_on_the_backend(backend_impl):
    xp, impl = backend_impl
    a = _args(L=300)
    t0 = 211
    a["u"][..., t0] = np.nan
    X = {k: testing.from_numpy(xp, v) for k, v in a.items()}
    with np.errstate(all="ignore"):
        out, _ = _fwd(X, impl=impl)
    prefix = {k: (v[..., :t0] if k in ("u", "delta", "z", "B", "C", "deltaA") else v)
              for k, v in X.items()}
    clean, _ = _fwd(prefix, impl=impl)
    testing.assert_close(out[..., :t0], clean)


@pytest.mark.parametrize("name", ["A", "D", "delta_bias", "B"])
def test_non_finite_parameters_rejected_under_check_finite(name):
    a = _args()
    if name == "B":
        a["B"] = np.ones((4, 3))  # constant B is a parameter (variable B is an input)
    a[name] = a[name].copy()
    a[name][(0,) * a[name].ndim] = np.nan
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        _fwd(a)
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        _vjp(a, _dout(a))
    with np.errstate(all="ignore"):
        out, _ = _fwd(a, check_finite=False)  # the caller vouches: no value is read
    assert np.isnan(out).any()


def test_rglru_domain_check_runs_only_under_check_finite():
    a = _args()
    with pytest.raises(ValueError, match="A > 0"):
        _fwd(a, discretization="rglru")
    with np.errstate(all="ignore"):  # log of a negative A: NaN, as the caller allowed
        _fwd(a, discretization="rglru", check_finite=False)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_check_finite_is_a_real_bool(bad):
    with pytest.raises(TypeError, match="check_finite must be a bool"):
        _fwd(_args(), check_finite=bad)


# ---- accuracy at tiny steps and eigenvalues near 0 -----------------------------------------


def _tiny(method, cplx, dt):
    rng = np.random.default_rng(3)
    Bsz, Dm, N, L = 1, 3, 4, 12
    if method == "rglru":
        A = np.array([[0.999, 0.9, 0.5, 1 - 1e-7]] * Dm)
    else:  # eigenvalues down to -1e-8 and one near 0 with a large imaginary part
        A = -np.array([[1e-8, 1e-6, 0.5, 2.0]] * Dm)
        if cplx:
            A = A + 1j * np.array([[1e-7, 3.0, 0.0, 1.0]] * Dm)
    a = dict(u=rng.standard_normal((Bsz, Dm, L)), delta=np.full((Bsz, Dm, L), dt), A=A,
             B=rng.standard_normal((Dm, N)), C=rng.standard_normal((Dm, N)), D=None, z=None,
             delta_bias=None, deltaA=None, h0=None)
    if cplx:
        a["B"] = a["B"] + 1j * rng.standard_normal((Dm, N))
    return a


@pytest.mark.parametrize("dt", [1e-3, 1e-8, 1e-30])
@pytest.mark.parametrize("method,cplx", [(m, False) for m in ("mamba", "zoh", "bilinear",
                                                              "dirac", "rglru")]
                         + [("zoh", True), ("bilinear", True)])
def test_tiny_steps_match_the_float64_oracle(backend_impl, real_dtype, method, cplx, dt):
    xp, impl = backend_impl
    a = _tiny(method, cplx, dt)
    ct = {"float32": "complex64", "float64": "complex128"}[real_dtype]
    # The oracle sees the inputs the op sees (rounded to the dtype under test).
    r = {k: (None if v is None else testing.from_numpy(
        np, v, ct if np.iscomplexobj(v) else real_dtype).astype(
        np.complex128 if np.iscomplexobj(v) else np.float64)) for k, v in a.items()}
    want, want_last = _oracle(r, method)
    X = {k: (None if v is None else testing.from_numpy(
        xp, v, ct if np.iscomplexobj(v) else real_dtype)) for k, v in a.items()}
    out, last = _fwd(X, impl=impl, discretization=method)
    _close_normwise(out, want, real_dtype, xp, "out")
    _close_normwise(last, want_last, ct if cplx else real_dtype, xp, "last_state")


def _oracle(r, method):
    from lrnnx_array._ops.selective_scan._ref import selective_scan_ref

    return selective_scan_ref(*(r[k] for k in REQUIRED), return_last_state=True,
                              discretization=method)


def test_rglru_gamma_is_stable_in_float32():
    """Issue 8's numbers: sqrt(1 - Abar^2) lost 2.4% at A=0.999, dt=1e-3 in float32 and gave
    exactly 0 at dt=1e-30."""
    one = np.ones((1, 1), np.float32)
    for dt, want in ((1e-3, 0.00141), (1e-30, 1.18e-15)):
        u = np.ones((1, 1, 1), np.float32)
        d = np.full((1, 1, 1), dt, np.float32)
        A = np.array([[0.999]], np.float32) if dt == 1e-3 else np.array([[0.5]], np.float32)
        got = selective_scan(u, d, A, one, one, discretization="rglru")[0, 0, 0]
        ref = np.sqrt(-np.expm1(2 * np.float64(np.float32(dt)) * np.log(np.float64(A[0, 0]))))
        np.testing.assert_allclose(got, ref, rtol=testing.tolerance("float32")[0])
        assert float(f"{ref:.3g}") == want  # the figure, as a check on the oracle
