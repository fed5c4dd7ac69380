"""LRU: forward = step loop = a float64 recurrence from λ, B_norm, C, D; lrnnx's state_dict
table; init ring; round trip; precision; bad input."""

import numpy as np
import pytest
from _lti_cases import LENGTHS, LRU_TABLE, check_state_dict_table, host, lru_recurrence, step_loop

from lrnnx_array import testing
from lrnnx_array.models.lti import LRU


def _model(xp, H=4, N=8, dtype="float64", seed=5, **kw):
    return LRU(H, N, seed=seed, dtype=dtype, xp=xp, **kw)


def _x(xp, B, L, H, dtype="float64", seed=0):
    return testing.from_numpy(xp, np.random.default_rng(seed).standard_normal((B, L, H)), dtype)


@pytest.mark.parametrize("L", LENGTHS)
def test_step_loop_equals_forward(xp, L):
    # r_min = 0.9 keeps modes slow, so the whole length matters
    m = _model(xp, r_min=0.9, r_max=0.999)
    x = _x(xp, 2, L, 4)
    testing.assert_close(step_loop(m, x), m(x), scale=10)


@pytest.mark.slow
def test_step_loop_equals_forward_long(xp):
    m = _model(xp, r_min=0.9, r_max=0.999)
    x = _x(xp, 2, 1024, 4)
    testing.assert_close(step_loop(m, x), m(x), scale=100)


@pytest.mark.parametrize("L", (1, 17, 64))
@pytest.mark.parametrize("ring", [dict(), dict(r_min=0.5, r_max=0.95, max_phase=np.pi)])
def test_forward_equals_float64_recurrence(xp, L, ring):
    m = _model(xp, **ring)
    x = np.random.default_rng(1).standard_normal((3, L, 4))
    got = host(m(testing.from_numpy(xp, x, "float64")))
    np.testing.assert_allclose(got, lru_recurrence(m, x), rtol=1e-9, atol=1e-11)


def test_float32_matches_float64(xp):
    m64, m32 = _model(xp, r_min=0.9), _model(xp, r_min=0.9, dtype="float32")
    x = np.random.default_rng(2).standard_normal((2, 256, 4))
    y64 = m64(testing.from_numpy(xp, x, "float64"))
    y32 = m32(testing.from_numpy(xp, x, "float32"))
    testing.assert_close(y32, testing.from_numpy(xp, host(y64), "float32"), scale=10)


def test_finite_at_lrnnx_test_size(xp):
    y = host(LRU(32, 16, seed=0, xp=xp)(_x(xp, 32, 64, 32, "float32")))
    assert y.shape == (32, 64, 32) and np.all(np.isfinite(y))


def test_init_ring():
    m = LRU(4, 4000, r_min=0.5, r_max=0.9, max_phase=1.0, seed=0)
    p = {k: host(v).astype(np.float64) for k, v in m.state_dict().items()}
    mag = np.exp(-np.exp(p["nu_log"]))
    phase = np.exp(p["theta_log"])
    assert mag.min() >= 0.5 - 1e-6 and mag.max() <= 0.9 + 1e-6
    assert phase.min() >= 0 and phase.max() <= 1.0 + 1e-6
    # |λ|^2 is uniform on [r_min^2, r_max^2]: its mean is the midpoint
    assert abs(np.mean(mag**2) - (0.25 + 0.81) / 2) < 0.01
    np.testing.assert_allclose(p["gamma_log"], np.log(np.sqrt(1 - mag**2)), rtol=1e-5)
    assert abs(np.std(p["B_re"]) - 1 / np.sqrt(8)) < 0.01
    assert abs(np.std(p["C_im"]) - 1 / np.sqrt(4000)) < 1e-3


@pytest.mark.parametrize("kwargs,table", LRU_TABLE)
def test_state_dict_keys_and_shapes(kwargs, table):
    m = LRU(**kwargs, seed=0)
    check_state_dict_table(m, table)
    assert all(v.dtype == np.float32 for v in m.state_dict().values())


def test_state_dict_round_trip_and_no_mutation(xp):
    m = _model(xp, dtype="float32")
    sd = {k: host(v).copy() for k, v in m.state_dict().items()}
    m2 = LRU.from_state_dict(sd, d_model=4, d_state=8, xp=xp)
    for k, v in m2.state_dict().items():
        assert host(v).dtype == sd[k].dtype and np.array_equal(host(v), sd[k])
    x = _x(xp, 2, 9, 4, "float32")
    testing.assert_close(m2(x), m(x), rtol=0, atol=0)
    step_loop(m, x)
    for k, v in m.state_dict().items():
        assert np.array_equal(host(v), sd[k]), f"{k} changed by forward/step"


def test_cache_keys(xp):
    cache = _model(xp, dtype="float32").allocate_inference_cache(3)
    assert {k: tuple(v.shape) for k, v in cache.items()} == {
        "lrnn_state": (3, 8), "Lambda": (8,), "B_norm": (8, 4), "C_complex": (4, 8)}


def test_compute_kernel_interface(xp):
    m = _model(xp)
    lam, Bc, _ = m.discretize()
    K, B_norm = m.compute_kernel(5, lam, Bc)
    want = host(lam)[:, None] ** np.arange(5)
    np.testing.assert_allclose(host(K), want, rtol=1e-12, atol=1e-14)
    assert tuple(B_norm.shape) == (8, 4)


def test_ignored_arguments_and_empty(xp):
    m = _model(xp)
    x = _x(xp, 2, 5, 4)
    testing.assert_close(m(x, integration_timesteps=x, lengths=x), m(x), rtol=0, atol=0)
    assert tuple(m(_x(xp, 2, 0, 4)).shape) == (2, 0, 4)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="r_min must be <= r_max"):
        LRU(4, 8, r_min=0.9, r_max=0.5)
    with pytest.raises(ValueError, match="r_max"):
        LRU(4, 8, r_max=1.5)
    with pytest.raises(ValueError, match="r_min"):
        LRU(4, 8, r_min=-0.1)
    with pytest.raises(ValueError, match="max_phase"):
        LRU(4, 8, max_phase=0.0)
    with pytest.raises(TypeError, match="max_phase"):
        LRU(4, 8, max_phase="pi")
    with pytest.raises(ValueError, match="max_phase"):
        LRU(4, 8, max_phase=float("nan"))
    with pytest.raises(ValueError, match="d_state"):
        LRU(4, 0)


def test_bad_inputs(xp):
    m = _model(xp)
    with pytest.raises(TypeError, match="x"):
        m(None)
    with pytest.raises(ValueError, match="d_model=4"):
        m(_x(xp, 2, 5, 5))
    with pytest.raises(TypeError, match="floating"):
        m(xp.ones((2, 5, 4), dtype=xp.int64))
    with pytest.raises(TypeError, match="floating"):
        m(xp.ones((2, 5, 4), dtype=xp.bool))
    cache = m.allocate_inference_cache(2)
    with pytest.raises(ValueError, match="d_model=4"):
        m.step(_x(xp, 2, 1, 3)[:, 0, :], cache)
