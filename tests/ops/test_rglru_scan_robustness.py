"""rglru_scan(_vjp): issue 9's bad-input classes and the accuracy at tiny δ / A near 1."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops.rglru_scan._ref import rglru_scan_ref
from lrnnx_array.ops import rglru_scan, rglru_scan_vjp

ARRAYS = ("u", "delta", "A", "h0")


def _args(seed=0, *, Bsz=2, D=3, N=2, L=7):
    rng = np.random.default_rng(seed)
    return dict(u=rng.standard_normal((Bsz, D, L)), delta=rng.uniform(0.1, 3, (Bsz, D, L)),
                A=rng.uniform(0.5, 0.99, (D, N)), h0=rng.standard_normal((Bsz, D, N)))


def _fwd(a, **kw):
    return rglru_scan(a["u"], a["delta"], a["A"], True, h0=a["h0"], **kw)


def _vjp(a, dout, **kw):
    return rglru_scan_vjp(dout, a["u"], a["delta"], a["A"], h0=a["h0"], **kw)


def _dout(a):
    return np.random.default_rng(9).standard_normal(a["u"].shape)


@pytest.mark.parametrize("name", ["u", "delta", "A"])
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
    for g, w in zip(rglru_scan(a["u"], a["delta"], a["A"], np.True_),
                    rglru_scan(a["u"], a["delta"], a["A"], True)):
        np.testing.assert_array_equal(g, w)
    for bad in ("False", 1, None, np.array([True, False])):
        with pytest.raises(TypeError, match="return_last_state must be a bool"):
            rglru_scan(a["u"], a["delta"], a["A"], bad)
        with pytest.raises(TypeError, match="return_last_state must be a bool"):
            rglru_scan_vjp(_dout(a), a["u"], a["delta"], a["A"], bad)


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


@pytest.mark.parametrize("dim", ["Bsz", "D", "N", "L"])
@pytest.mark.parametrize("impl", ["reference", "generic"])
def test_zero_size_dimensions_work(dim, impl):
    sizes = dict(Bsz=2, D=3, N=2, L=7)
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
@pytest.mark.parametrize("name", ["u", "delta"])
@pytest.mark.parametrize("L", [40, 1100])  # the generic path's chunked form from L = 512
def test_nan_does_not_travel_backwards_in_time(impl, name, L):
    a = _args(L=L, Bsz=1, D=2)
    t0 = L - 17
    clean = rglru_scan(a["u"], a["delta"], a["A"], h0=a["h0"], impl=impl)
    prefix = rglru_scan(a["u"][..., :t0], a["delta"][..., :t0], a["A"], h0=a["h0"], impl=impl)
    for bad in (np.nan, np.inf):
        a[name] = a[name].copy()
        a[name][..., t0] = bad
        with np.errstate(all="ignore"):
            y = rglru_scan(a["u"], a["delta"], a["A"], h0=a["h0"], impl=impl)
        # Bit for bit against the clean call of the same length (same chunking), and to the
        # table against the clean prefix (a shorter L may chunk differently).
        np.testing.assert_array_equal(y[..., :t0], clean[..., :t0])
        testing.assert_close(y[..., :t0], prefix)


def test_value_checks_only_under_check_finite():
    a = _args()
    a["A"][0, 0] = 1.5
    with pytest.raises(ValueError, match=r"A must lie in \(0, 1\]"):
        _fwd(a)
    with pytest.raises(ValueError, match=r"A must lie in \(0, 1\]"):
        _vjp(a, _dout(a))
    _fwd(a, check_finite=False)
    a["A"][0, 0] = np.nan
    with pytest.raises(ValueError, match="A must be finite"):
        _fwd(a)
    with pytest.raises(TypeError, match="check_finite must be a bool"):
        _fwd(_args(), check_finite="yes")


@pytest.mark.parametrize("delta", [1e-3, 1e-8, 1e-30])
def test_tiny_delta_and_a_near_one_match_the_oracle(backend_impl, real_dtype, delta):
    xp, impl = backend_impl
    rng = np.random.default_rng(2)
    u = rng.standard_normal((1, 3, 9))
    A = np.array([[0.999, 1 - 1e-7], [0.5, 0.9], [1e-6, 0.999999]])  # and one near 0
    d = np.full(u.shape, delta)
    r = [testing.from_numpy(np, v, real_dtype) for v in (u, d, A)]
    want, want_last = rglru_scan_ref(*r, True)
    y, last = rglru_scan(*(testing.from_numpy(xp, v, real_dtype) for v in r), True, impl=impl)
    for got, w, name in ((y, want, "y"), (last, want_last, "last")):
        scale = float(np.max(np.abs(w)))
        testing.assert_close(got / scale, testing.from_numpy(xp, w / scale, real_dtype),
                             err_msg=name)
