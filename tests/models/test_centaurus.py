"""Centaurus (every mode): forward = step loop = a float64 recurrence with the mode's wiring
built by loops; lrnnx's state_dict tables; the sizes where lrnnx crashes; bad input."""

import numpy as np
import pytest
from _lti_cases import (
    CENTAURUS_TABLE,
    LENGTHS,
    centaurus_recurrence,
    check_state_dict_table,
    host,
    step_loop,
)

from lrnnx_array import testing
from lrnnx_array.models.lti import (
    Centaurus,
    CentaurusDWS,
    CentaurusFull,
    CentaurusNeck,
    CentaurusPWNeck,
)

# lrnnx's test configs (mode, H, N, M), spec §5
CONFIGS = [("neck", 16, 16, 2), ("pointwise", 8, 4, 2), ("dws", 8, 8, 2), ("full", 4, 16, 2)]
IDS = [c[0] for c in CONFIGS]


def _model(xp, mode, H, N, M, dtype="float64", seed=7):
    return Centaurus(H, N, M, mode=mode, seed=seed, dtype=dtype, xp=xp)


def _x(xp, B, L, H, dtype="float64", seed=0):
    return testing.from_numpy(xp, np.random.default_rng(seed).standard_normal((B, L, H)), dtype)


@pytest.mark.parametrize("L", LENGTHS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_step_loop_equals_forward(xp, cfg, L):
    m = _model(xp, *cfg)
    x = _x(xp, 2, L, cfg[1])
    testing.assert_close(step_loop(m, x), m(x), scale=10)


@pytest.mark.slow
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_step_loop_equals_forward_long(xp, cfg):
    m = _model(xp, *cfg)
    x = _x(xp, 2, 1024, cfg[1])
    testing.assert_close(step_loop(m, x), m(x), scale=100)


@pytest.mark.parametrize("L", (1, 17, 64))
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_forward_equals_float64_recurrence(xp, cfg, L):
    m = _model(xp, *cfg)
    x = np.random.default_rng(1).standard_normal((3, L, cfg[1]))
    got = host(m(testing.from_numpy(xp, x, "float64")))
    np.testing.assert_allclose(got, centaurus_recurrence(m, x), rtol=1e-9, atol=1e-11)


# Sizes where lrnnx's forward raises a dtype error (materialised-kernel branch), measured.
LRNNX_CRASH = [("neck", 8, 64, 2, 32), ("neck", 2, 4, 2, 2), ("full", 3, 9, 2, 2),
               ("pointwise", 4, 16, 2, 32)]


@pytest.mark.parametrize("mode,H,N,M,B", LRNNX_CRASH)
def test_runs_where_lrnnx_crashes(xp, mode, H, N, M, B):
    m = _model(xp, mode, H, N, M)
    x = np.random.default_rng(3).standard_normal((B, 16, H))
    got = host(m(testing.from_numpy(xp, x, "float64")))
    np.testing.assert_allclose(got, centaurus_recurrence(m, x), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_float32_matches_float64(xp, cfg):
    m64, m32 = _model(xp, *cfg), _model(xp, *cfg, dtype="float32")
    x = np.random.default_rng(2).standard_normal((2, 64, cfg[1]))
    y64 = m64(testing.from_numpy(xp, x, "float64"))
    y32 = m32(testing.from_numpy(xp, x, "float32"))
    testing.assert_close(y32, testing.from_numpy(xp, host(y64), "float32"), scale=10)


@pytest.mark.parametrize("mode,N", [("neck", 16), ("pointwise", 16), ("dws", 32)])
def test_finite_at_lrnnx_test_size(xp, mode, N):
    m = Centaurus(32, N, 8, mode=mode, seed=0, xp=xp)
    y = host(m(_x(xp, 32, 64, 32, "float32")))
    assert y.shape == (32, 64, 32) and np.all(np.isfinite(y))


@pytest.mark.parametrize("kwargs,cls,table", CENTAURUS_TABLE)
def test_state_dict_keys_and_shapes(kwargs, cls, table):
    m = Centaurus(**kwargs, seed=0)
    assert type(m).__name__ == cls
    check_state_dict_table(m, table)
    for k, v in m.state_dict().items():
        assert v.dtype == (np.complex64 if k == "A" else np.float32), k
    M = kwargs["sub_state_dim"]
    np.testing.assert_allclose(host(m.A)[1], -0.5 + 1j * np.pi * np.arange(M) / M, rtol=1e-6)


@pytest.mark.parametrize("mode", ["pw", "s5"])
def test_mode_aliases(mode):
    assert type(Centaurus(4, 4, 2, mode=mode)) is CentaurusPWNeck
    assert type(Centaurus(4, 4, 2)) is CentaurusNeck


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_state_dict_round_trip_and_no_mutation(xp, cfg):
    mode, H, N, M = cfg
    m = _model(xp, *cfg, dtype="float32")
    sd = {k: host(v).copy() for k, v in m.state_dict().items()}
    m2 = Centaurus.from_state_dict(sd, d_model=H, d_state=N, sub_state_dim=M, mode=mode, xp=xp)
    for k, v in m2.state_dict().items():
        assert host(v).dtype == sd[k].dtype and np.array_equal(host(v), sd[k])
    x = _x(xp, 2, 9, H, "float32")
    testing.assert_close(m2(x), m(x), rtol=0, atol=0)
    step_loop(m, x)
    for k, v in m.state_dict().items():
        assert np.array_equal(host(v), sd[k]), f"{k} changed by forward/step"


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_cache_keys_not_in_state_dict(xp, cfg):
    mode, H, N, M = cfg
    m = _model(xp, *cfg, dtype="float32")
    cache = m.allocate_inference_cache(3)
    shapes = {k: tuple(v.shape) for k, v in cache.items()}
    if mode == "pointwise":
        assert shapes == {"lrnn_state": (3, N * M), "A_bar_flat": (N * M,),
                          "B_bar_flat": (N * M, H), "C_flat": (H, N * M)}
    else:
        assert shapes == {"lrnn_state": (3, N, M), "A_bar": (N, M), "B_bar": (N, H),
                          "E": (N, M), "C": (H, N)}
    assert not set(m.state_dict()) & {"_full_in_mask", "_full_out_mask"}
    assert set(m.state_dict()) <= {"A", "E", "log_delta", "B", "C"}


def test_compute_kernel_and_discretize(xp):
    m = _model(xp, "neck", 4, 4, 2)
    with pytest.raises(ValueError, match="needs L"):
        m.compute_kernel()
    m(_x(xp, 1, 6, 4))
    assert m.seq_len == 6
    K, empty = m.compute_kernel()
    assert tuple(K.shape) == (4, 6) and tuple(empty.shape) == (0,)
    with pytest.raises(NotImplementedError, match="implicitly"):
        m.discretize()


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="mode"):
        Centaurus(4, 4, 2, mode="conv")
    with pytest.raises(ValueError, match="d_state == d_model"):
        CentaurusDWS(4, 8, 2)
    with pytest.raises(ValueError, match="d_model\\*\\*2"):
        CentaurusFull(4, 8, 2)
    with pytest.raises(ValueError, match="sub_state_dim"):
        CentaurusNeck(4, 4, 0)
    with pytest.raises(ValueError, match="discretization"):
        Centaurus(4, 4, 2, discretization="euler")
    Centaurus(4, 4, 2, discretization="async")  # accepted and ignored, as in lrnnx


def test_bad_inputs(xp):
    m = _model(xp, "neck", 4, 4, 2)
    with pytest.raises(TypeError, match="x"):
        m(None)
    with pytest.raises(ValueError, match="3 dimensions"):
        m(xp.zeros((4, 4)))
    with pytest.raises(ValueError, match="d_model=4"):
        m(_x(xp, 1, 5, 2))
    with pytest.raises(TypeError, match="floating"):
        m(xp.zeros((1, 5, 4), dtype=xp.int32))
    cache = m.allocate_inference_cache(1)
    with pytest.raises(KeyError, match="E"):
        m.step(_x(xp, 1, 1, 4)[:, 0, :], {k: v for k, v in cache.items() if k != "E"})
