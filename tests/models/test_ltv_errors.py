"""LTV models: bad inputs raise named errors, and a failed step leaves the cache as it was."""

import numpy as np
import pytest

from lrnnx_array.models.ltv import RGLRU, S5, S7, Mamba

MODELS = {
    "mamba": lambda: Mamba(8, d_state=4, seed=0),
    "rglru": lambda: RGLRU(8, seed=0),
    "s5": lambda: S5(8, 4, seed=0),
    "s7": lambda: S7(8, 4, seed=0),
}
X = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)


@pytest.mark.parametrize("name", list(MODELS))
def test_bad_inputs(name):
    m = MODELS[name]()
    with pytest.raises(TypeError, match="x must be an array, got None"):
        m(None)
    with pytest.raises(ValueError, match=r"looks like \(batch, d_model, seqlen\)"):
        m(np.swapaxes(X, 1, 2))
    with pytest.raises(ValueError, match=r"layout \(batch, seqlen, d_model\)"):
        m(X[0])
    with pytest.raises(TypeError, match="floating"):
        m(X.astype(np.int64))
    with pytest.raises(TypeError, match="x must be an array"):
        m([[1.0] * 8])
    cache = m.allocate_inference_cache(3, 5)
    with pytest.raises(ValueError, match="another batch size"):
        m(X, inference_cache=cache)
    with pytest.raises(ValueError, match="another batch size"):
        m.step(X[:, :1], cache)
    with pytest.raises(TypeError, match="inference_cache is required"):
        m.step(X[:, :1], None)
    with pytest.raises(TypeError, match="inference_cache must be a dict"):
        m(X, inference_cache=[1])
    good = m.allocate_inference_cache(2, 5)
    with pytest.raises(ValueError, match=r"shape \(batch, 1, d_model\)"):
        m.step(X[:, :2], good)
    good["seqlen_offset"] = 1
    with pytest.raises(ValueError, match="seqlen 1"):
        m(X, inference_cache=good)
    with pytest.raises(KeyError, match="allocate_inference_cache"):
        m.step(X[:, :1], {"seqlen_offset": 1})


@pytest.mark.parametrize("name", ["mamba", "s5"])
def test_bad_timesteps(name):
    m = MODELS[name]()
    ts = np.ones((2, 5), np.float32)
    with pytest.raises(ValueError, match="integration_timesteps must have shape"):
        m(X, ts[:, :4])
    with pytest.raises(ValueError, match="integration_timesteps must have shape"):
        m(X, ts.T)
    with pytest.raises(ValueError, match=">= 0"):
        m(X, -ts)
    bad = ts.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        m(X, bad)
    with pytest.raises(TypeError, match="floating"):
        m(X, ts.astype(np.int32))
    cache = m.allocate_inference_cache(2, 5)
    before = {k: np.copy(v) for k, v in cache.items() if k != "seqlen_offset"}
    for bad_ts, err in ((ts, "integration_timesteps must have shape"), (-ts[:, 0], ">= 0")):
        with pytest.raises(ValueError, match=err):
            m.step(X[:, :1], cache, bad_ts)
    for k, v in before.items():
        np.testing.assert_array_equal(cache[k], v)
    assert cache["seqlen_offset"] == 0
    # (B,) and (B, 1) are both step layouts; S5 also takes (B, L, 1) in forward.
    m.step(X[:, :1], cache, ts[:, 0])
    m.step(X[:, :1], cache, ts[:, :1])
    if name == "s5":
        np.testing.assert_allclose(m(X, ts[:, :, None]), m(X, ts), rtol=1e-6)
    else:
        with pytest.raises(ValueError, match="integration_timesteps must have shape"):
            m(X, ts[:, :, None])


def test_ignored_arguments_as_lrnnx():
    # lengths is ignored by every LTV model, integration_timesteps by RG-LRU and S7.
    for name in ("rglru", "s7"):
        m = MODELS[name]()
        np.testing.assert_array_equal(m(X, np.ones((2, 5), np.float32), lengths=[5, 5]), m(X))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="discretization must be one of"):
        Mamba(8, discretization="s7")
    with pytest.raises(ValueError, match="discretization must be one of"):
        S5(8, 4, discretization="mamba")
    with pytest.raises(ValueError, match="dt_rank must be 'auto' or an int"):
        Mamba(8, dt_rank="full")
    with pytest.raises(TypeError, match="d_state must be an integer"):
        Mamba(8, d_state=4.0)
    with pytest.raises(ValueError, match="d_model must be >= 1"):
        S7(0, 4)
    with pytest.raises(ValueError, match="divisible by J"):
        S7(8, 6, J=4)
    with pytest.raises(TypeError, match="conj_sym must be a bool"):
        S5(8, 4, conj_sym=1)
    with pytest.raises(ValueError, match="a_init_range"):
        RGLRU(8, a_init_range=(0.9, 1.5))
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        Mamba(8, dtype="complex64")
    with pytest.raises(ValueError, match="dt_min must be <= dt_max"):
        S5(8, 4, dt_min=0.5, dt_max=0.1)
    assert Mamba(8, dt_rank=np.int64(2)).dt_rank == 2
    assert S5(8, 4, conj_sym=np.bool_(True)).conj_sym is True


def test_bad_checkpoint_raises_and_changes_nothing():
    m = MODELS["mamba"]()
    sd = {k: np.copy(v) for k, v in m.state_dict().items()}
    bad = dict(sd)
    bad["A_log"] = np.full_like(sd["A_log"], np.nan)
    with pytest.raises(ValueError, match="A_log"):
        m.load_state_dict(bad)
    bad = dict(sd)
    bad["conv1d.weight"] = sd["conv1d.weight"][:, 0, :]
    with pytest.raises(ValueError, match="conv1d.weight"):
        m.load_state_dict(bad)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
