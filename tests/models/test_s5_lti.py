"""S5 (LTI): forward = step loop = a float64 recurrence from the discretization formulas; lrnnx's
state_dict table; round trip; precision; bad input."""

import numpy as np
import pytest
from _lti_cases import LENGTHS, S5_TABLE, check_state_dict_table, host, s5_recurrence, step_loop

from lrnnx_array import testing
from lrnnx_array.models.lti import S5

STABLE = ("zoh", "bilinear", "dirac")


def _model(xp, disc="zoh", H=4, N=8, dtype="float64", seed=3):
    return S5(H, N, disc, seed=seed, dtype=dtype, xp=xp)


def _x(xp, B, L, H, dtype="float64", seed=0):
    return testing.from_numpy(xp, np.random.default_rng(seed).standard_normal((B, L, H)), dtype)


@pytest.mark.parametrize("L", LENGTHS)
@pytest.mark.parametrize("disc", STABLE)
def test_step_loop_equals_forward(xp, disc, L):
    m = _model(xp, disc)
    x = _x(xp, 2, L, 4)
    testing.assert_close(step_loop(m, x), m(x), scale=10)


@pytest.mark.slow
@pytest.mark.parametrize("disc", STABLE)
def test_step_loop_equals_forward_long(xp, disc):
    m = _model(xp, disc)
    x = _x(xp, 2, 1024, 4)
    testing.assert_close(step_loop(m, x), m(x), scale=100)


def test_no_discretization_step_equals_forward(xp):
    # raw A: |A|^l grows like (pi n)^l, so compare relative to the output's scale at short L
    m = _model(xp, "no_discretization", N=4)
    x = _x(xp, 2, 8, 4)
    y, ys = host(m(x)), host(step_loop(m, x))
    assert np.max(np.abs(y - ys)) <= 1e-12 * np.max(np.abs(y))


@pytest.mark.parametrize("L", (1, 17, 64))
@pytest.mark.parametrize("disc", STABLE + ("no_discretization",))
def test_forward_equals_float64_recurrence(xp, disc, L):
    m = _model(xp, disc, N=4 if disc == "no_discretization" else 8)
    L = min(L, 8) if disc == "no_discretization" else L
    x = np.random.default_rng(1).standard_normal((3, L, 4))
    want = s5_recurrence(m, x)
    got = host(m(testing.from_numpy(xp, x, "float64")))
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11 * scale)


@pytest.mark.parametrize("disc", STABLE)
def test_float32_matches_float64(xp, disc):
    m64, m32 = _model(xp, disc), _model(xp, disc, dtype="float32")
    x = np.random.default_rng(2).standard_normal((2, 64, 4))
    y64 = m64(testing.from_numpy(xp, x, "float64"))
    y32 = m32(testing.from_numpy(xp, x, "float32"))
    assert str(y32.dtype).endswith("float32")
    testing.assert_close(y32, testing.from_numpy(xp, host(y64), "float32"), scale=10)


@pytest.mark.parametrize("disc", STABLE)
def test_finite_at_lrnnx_test_size(xp, disc):
    m = S5(32, 16, disc, seed=0, xp=xp)
    y = host(m(_x(xp, 32, 64, 32, "float32")))
    assert y.shape == (32, 64, 32) and np.all(np.isfinite(y))


@pytest.mark.parametrize("kwargs,table", S5_TABLE)
def test_state_dict_keys_and_shapes(kwargs, table):
    check_state_dict_table(S5(**kwargs, seed=0), table)
    sd = S5(**kwargs, seed=0).state_dict()
    assert all(v.dtype == np.float32 for v in sd.values())


def test_state_dict_round_trip_and_no_mutation(xp):
    m = _model(xp, "zoh", dtype="float32")
    sd = {k: host(v).copy() for k, v in m.state_dict().items()}
    m2 = S5.from_state_dict(sd, d_model=4, d_state=8, discretization="zoh", xp=xp)
    for k, v in m2.state_dict().items():
        assert host(v).dtype == sd[k].dtype and np.array_equal(host(v), sd[k])
    x = _x(xp, 2, 9, 4, "float32")
    testing.assert_close(m2(x), m(x), rtol=0, atol=0)
    step_loop(m, x)
    for k, v in m.state_dict().items():
        assert np.array_equal(host(v), sd[k]), f"{k} changed by forward/step"


def test_cache_keys_and_not_in_state_dict(xp):
    m = _model(xp, "zoh", dtype="float32")
    cache = m.allocate_inference_cache(3)
    assert {k: tuple(v.shape) for k, v in cache.items()} == {
        "lrnn_state": (3, 8), "A_bar": (8,), "B_bar": (8, 4), "C_complex": (4, 8)}
    assert all(str(v.dtype).endswith("complex64") for v in cache.values())
    assert list(m.state_dict()) == ["A", "B", "log_dt", "C", "D"]
    c64 = m.allocate_inference_cache(3, dtype="float64")
    assert str(c64["lrnn_state"].dtype).endswith("complex128")


def test_ignored_arguments_and_empty(xp):
    m = _model(xp)
    x = _x(xp, 2, 5, 4)
    testing.assert_close(m(x, integration_timesteps=x, lengths=x), m(x), rtol=0, atol=0)
    assert tuple(m(_x(xp, 2, 0, 4)).shape) == (2, 0, 4)
    assert tuple(m(_x(xp, 0, 5, 4)).shape) == (0, 5, 4)


def test_float16_input_computes_in_float32():
    m = S5(4, 8, "zoh", seed=0)
    y = m(np.zeros((1, 3, 4), np.float16))
    assert y.dtype == np.float32


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="discretization"):
        S5(4, 8, "euler")
    with pytest.raises(ValueError, match="async"):
        S5(4, 8, "async")
    with pytest.raises(NotImplementedError, match="conj_sym"):
        S5(4, 8, "zoh", conj_sym=True)
    with pytest.raises(TypeError, match="conj_sym"):
        S5(4, 8, "zoh", conj_sym=1)
    with pytest.raises(ValueError, match="d_model"):
        S5(0, 8, "zoh")
    with pytest.raises(TypeError, match="d_state"):
        S5(4, "8", "zoh")
    with pytest.raises(TypeError, match="d_model"):
        S5(True, 8, "zoh")
    with pytest.raises(ValueError, match="dtype"):
        S5(4, 8, "zoh", dtype="int32")
    with pytest.raises(TypeError, match="seed"):
        S5(4, 8, "zoh", seed=1.5)


def test_bad_inputs(xp):
    m = _model(xp)
    with pytest.raises(TypeError, match="x"):
        m(None)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        m(_x(xp, 2, 5, 4)[:, 0, :])
    with pytest.raises(ValueError, match="d_model=4"):
        m(_x(xp, 2, 5, 3))
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        m(xp.ones((2, 5, 4), dtype=xp.int32))
    with pytest.raises(TypeError, match="x"):
        m(xp.ones((2, 5, 4), dtype=xp.complex128))
    with pytest.raises(TypeError, match="x"):
        m([[[0.0] * 4]])
    cache = m.allocate_inference_cache(2)
    with pytest.raises(ValueError, match="batch"):
        m.step(_x(xp, 3, 1, 4)[:, 0, :], cache)
    with pytest.raises(KeyError, match="B_bar"):
        m.step(_x(xp, 2, 1, 4)[:, 0, :], {"lrnn_state": cache["lrnn_state"]})
    with pytest.raises(TypeError, match="inference_cache"):
        m.step(_x(xp, 2, 1, 4)[:, 0, :], None)
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        m.step(_x(xp, 2, 1, 4), cache)
    with pytest.raises(ValueError, match="batch_size"):
        m.allocate_inference_cache(-1)
    with pytest.raises(KeyError, match="missing"):
        m.load_state_dict({"A": host(m.A)})


def test_other_namespace_rejected():
    m = S5(4, 8, "zoh", seed=0)
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="live in"):
        m(strict.zeros((1, 3, 4)))
    m.to(strict)
    assert tuple(m(strict.zeros((1, 3, 4))).shape) == (1, 3, 4)
