"""s7_scan(_vjp): issue 9's bad-input classes and the accuracy where Ā is near 0 or near 1."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops.s7_scan._ref import s7_scan_ref
from lrnnx_array.ops import s7_scan, s7_scan_vjp

ARRAYS = ("u", "A", "B", "C", "bias", "h0")
TIME = ("u", "A", "B", "C", "bias")  # the arrays with a time axis (last)


def _args(seed=0, *, Bsz=2, H=3, N=2, L=7):
    rng = np.random.default_rng(seed)
    return dict(u=rng.standard_normal((Bsz, H, L)), A=-0.5 + 0.5 * rng.standard_normal((Bsz, N, L)),
                B=0.5 * rng.standard_normal((Bsz, N, H, L)),
                C=0.5 * rng.standard_normal((Bsz, H, N, L)),
                bias=rng.standard_normal((Bsz, N, L)), h0=rng.standard_normal((Bsz, N)))


def _fwd(a, **kw):
    return s7_scan(*(a[k] for k in ARRAYS[:5]), True, h0=a["h0"], **kw)


def _vjp(a, dout, **kw):
    return s7_scan_vjp(dout, *(a[k] for k in ARRAYS[:5]), h0=a["h0"], **kw)


def _dout(a):
    return np.random.default_rng(9).standard_normal(a["u"].shape)


@pytest.mark.parametrize("name", ["u", "A", "B", "C"])
def test_none_for_a_required_array_names_it(name):
    a = _args()
    a[name] = None
    with pytest.raises(TypeError, match=rf"\b{name} is required"):
        _fwd(a)
    with pytest.raises(TypeError, match=rf"\b{name} is required"):
        _vjp(a, _dout(_args()))
    with pytest.raises(TypeError, match="dout is required"):
        _vjp(_args(), None)


def test_flag_accepts_numpy_bools_and_rejects_others():
    a = _args()
    args = [a[k] for k in ARRAYS[:5]]
    for g, w in zip(s7_scan(*args, np.True_), s7_scan(*args, True)):
        np.testing.assert_array_equal(g, w)
    for bad in ("False", 1, None, np.array([True, False])):
        with pytest.raises(TypeError, match="return_last_state must be a bool"):
            s7_scan(*args, bad)
        with pytest.raises(TypeError, match="return_last_state must be a bool"):
            s7_scan_vjp(_dout(a), *args, bad)


@pytest.mark.parametrize("name", ARRAYS)
@pytest.mark.parametrize("kind", [np.int64, np.bool_])
def test_integer_and_bool_arrays_raise_type_error(name, kind):
    a = _args()
    a[name] = a[name].astype(kind)
    with pytest.raises(TypeError, match=rf"\b{name} must have a"):
        _fwd(a)
    with pytest.raises(TypeError, match=rf"\b{name} must have a"):
        _vjp(a, _dout(_args()))


def test_float16_computes_and_returns_float32():
    a = {k: v.astype(np.float16) for k, v in _args().items()}
    assert all(x.dtype == np.float32 for x in _fwd(a))
    assert all(x.dtype == np.float32 for x in _vjp(a, _dout(a).astype(np.float16)))


@pytest.mark.parametrize("name", ARRAYS)
def test_mixed_precision_promotes(name):
    a = {k: v.astype(np.float32) for k, v in _args().items()}
    a[name] = a[name].astype(np.float64)
    assert all(x.dtype == np.float64 for x in _fwd(a))
    assert all(x.dtype == np.float64 for x in _vjp(a, _dout(a)))


@pytest.mark.parametrize("dim", ["Bsz", "H", "N", "L"])
@pytest.mark.parametrize("impl", ["reference", "generic"])
def test_zero_size_dimensions_work(dim, impl):
    sizes = dict(Bsz=2, H=3, N=2, L=7)
    sizes[dim] = 0
    a = _args(**sizes)
    y, last = _fwd(a, impl=impl)
    assert y.shape == a["u"].shape and last.shape == a["h0"].shape
    g = _vjp(a, _dout(a), dlast_state=np.ones(a["h0"].shape), impl=impl)
    for name, x in zip(ARRAYS, g):
        assert x.shape == a[name].shape, name
    if dim == "L":  # no steps: the last state is h0 and its cotangent passes through
        np.testing.assert_array_equal(last, a["h0"])
        np.testing.assert_array_equal(g.dh0, np.ones(a["h0"].shape))


@pytest.mark.parametrize("impl", ["reference", "generic"])
@pytest.mark.parametrize("name", TIME)
@pytest.mark.parametrize("L", [40, 1100])  # the generic path's chunked form from L = 512
def test_nan_does_not_travel_backwards_in_time(impl, name, L):
    a = _args(L=L, Bsz=1)
    t0 = L - 17
    clean, _ = _fwd(a, impl=impl)
    prefix, _ = _fwd({k: (v[..., :t0] if k in TIME else v) for k, v in a.items()}, impl=impl)
    for bad in (np.nan, np.inf):
        a[name] = a[name].copy()
        a[name][..., t0] = bad
        with np.errstate(all="ignore"):  # A, B, C, bias are parameters: skip their check
            y, _ = _fwd(a, impl=impl, check_finite=False)
        np.testing.assert_array_equal(y[..., :t0], clean[..., :t0])
        testing.assert_close(y[..., :t0], prefix)


@pytest.mark.parametrize("name", ["A", "B", "C", "bias"])
def test_non_finite_parameters_rejected_under_check_finite(name):
    a = _args()
    a[name][(0,) * a[name].ndim] = np.inf
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        _fwd(a)
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        _vjp(a, _dout(a))
    with np.errstate(all="ignore"):
        _fwd(a, check_finite=False)


@pytest.mark.parametrize("a0", [0.0, 1e-8, 2 ** -0.5, 2 ** -0.5 + 1e-8])  # Ā = -1, ~-1, 0, ~0
def test_gate_near_0_and_near_minus_1_matches_the_oracle(backend_impl, real_dtype, a0):
    xp, impl = backend_impl
    a = _args(L=9, Bsz=1)
    a["A"] = np.full(a["A"].shape, a0)
    r = {k: testing.from_numpy(np, v, real_dtype) for k, v in a.items()}
    want, want_last = s7_scan_ref(*(r[k] for k in ARRAYS[:5]), True, h0=r["h0"])
    y, last = _fwd({k: testing.from_numpy(xp, v, real_dtype) for k, v in a.items()}, impl=impl)
    for got, w, name in ((y, want, "y"), (last, want_last, "last")):
        scale = float(np.max(np.abs(w)))
        testing.assert_close(got / scale, testing.from_numpy(xp, w / scale, real_dtype),
                             err_msg=name)
