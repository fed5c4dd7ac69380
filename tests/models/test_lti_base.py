"""LTI_LRNN: argument checks, seeds, dtype rules, the float64-phase powers, the check_finite
binder, and the interface every LTI model shares (S5, LRU, Centaurus here)."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.models.lti import LRU, LTI_LRNN, S5, Centaurus
from lrnnx_array.models.lti.base import with_unchecked

MODELS = [
    lambda **kw: S5(4, 8, "zoh", **kw),
    lambda **kw: LRU(4, 8, **kw),
    lambda **kw: Centaurus(4, 8, 2, mode="neck", **kw),
    lambda **kw: Centaurus(4, 4, 2, mode="pointwise", **kw),
    lambda **kw: Centaurus(4, 4, 2, mode="dws", **kw),
    lambda **kw: Centaurus(4, 16, 2, mode="full", **kw),
]
IDS = ["S5", "LRU", "neck", "pointwise", "dws", "full"]


def test_discretization_checked():
    assert LTI_LRNN("bilinear").discretization == "bilinear"
    with pytest.raises(ValueError, match="LTV"):
        LTI_LRNN("async")
    with pytest.raises(ValueError, match="discretization must be one of"):
        LTI_LRNN("mamba")


def test_abstract_interface_raises():
    base = LTI_LRNN("zoh")
    for call in (base.discretize, base.compute_kernel, lambda: base.step(None, {}),
                 lambda: base.allocate_inference_cache(1)):
        with pytest.raises(NotImplementedError):
            call()


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_seed_reproducible(make):
    a, b, c = make(seed=11), make(seed=11), make(seed=12)
    sa, sb, sc = (m.state_dict() for m in (a, b, c))
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert any(not np.array_equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_dtype_rules(make):
    m32, m64 = make(seed=0), make(seed=0, dtype="float64")
    x32 = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    assert m32(x32).dtype == np.float32
    assert m64(x32).dtype == np.float64          # promoted with the parameters
    assert m32(x32.astype(np.float64)).dtype == np.float64
    assert m32(x32.astype(np.float16)).dtype == np.float32
    cache = m64.allocate_inference_cache(2)
    y, _ = m64.step(x32[:, 0], cache)
    assert y.dtype == np.float64
    # .to(dtype=float64) gives the same model as dtype="float64" (values widened exactly)
    m32.to(dtype=np.float64)
    np.testing.assert_allclose(m32(x32), make(seed=0, dtype="float64")(x32), rtol=1e-6,
                               atol=1e-6)


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_parameters_train_eval_and_to(make):
    strict = pytest.importorskip("array_api_strict")
    m = make(seed=0)
    assert len(m.parameters()) == len(m.state_dict())
    assert m.eval().training is False and m.train().training is True
    x = np.random.default_rng(0).standard_normal((1, 6, 4)).astype(np.float32)
    want = m(x)
    m.to(strict)
    got = m(strict.asarray(x))
    testing.assert_close(got, strict.asarray(want), check_namespace=True)


def test_powers_match_numpy_and_keep_phase_in_float32():
    import array_api_compat.numpy as xp

    base = LTI_LRNN("zoh")
    log_a = np.array([-1e-3 + 2.9j, -0.2 - 0.7j, -np.inf + 0j])
    K64 = base._powers(xp.asarray(log_a), 4096, xp.complex128)
    ell = np.arange(4096)
    want = np.exp(np.outer(log_a[:2], ell))
    np.testing.assert_allclose(K64[:2], want, rtol=1e-9, atol=1e-12)
    assert K64[2, 0] == 1 and np.all(K64[2, 1:] == 0)
    # float32 output is the complex64 rounding of the exact value (no l-ulp phase drift)
    K32 = base._powers(xp.asarray(log_a), 4096, xp.complex64)
    assert np.max(np.abs(K32[:2] - want)) < 1e-6
    Kr = base._powers(xp.asarray(log_a), 4096, xp.float64, real=True)
    assert Kr.dtype == np.float64
    np.testing.assert_allclose(Kr[:2], want.real, rtol=1e-9, atol=1e-12)


def test_with_unchecked_binds_only_where_supported():
    seen = {}

    def op(x, *, check_finite=True):
        seen["cf"] = check_finite
        return x

    def plain(x):
        return x

    with_unchecked(op)(1)
    assert seen["cf"] is False
    assert with_unchecked(plain) is plain


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_cache_batch_size_checks(make):
    m = make(seed=0)
    with pytest.raises(TypeError, match="batch_size"):
        m.allocate_inference_cache(2.0)
    with pytest.raises(ValueError, match="max_seqlen"):
        m.allocate_inference_cache(2, max_seqlen=0)
    with pytest.raises(ValueError, match="dtype"):
        m.allocate_inference_cache(2, dtype="int8")
    cache = m.allocate_inference_cache(0)
    y, _ = m.step(np.zeros((0, 4), np.float32), cache)
    assert y.shape == (0, 4)


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_load_rejects_bad_entries_and_leaves_model_unchanged(make):
    m = make(seed=0)
    before = {k: np.array(v) for k, v in m.state_dict().items()}
    bad = dict(before)
    k0, k1 = list(before)[:2]
    bad[k0] = np.zeros_like(before[k0])
    bad[k1] = np.full(before[k1].shape, np.nan, before[k1].dtype)
    with pytest.raises(ValueError, match=k1):
        m.load_state_dict(bad)
    bad[k1] = np.zeros((1, 2, 3))
    with pytest.raises(ValueError, match="shape"):
        m.load_state_dict(bad)
    assert all(np.array_equal(m.state_dict()[k], before[k]) for k in before)
