"""Block (add -> norm -> mixer [-> add -> norm2 -> MLP]) and GatedMLP against direct formulas."""

import functools

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.layers import MHA, Block, GatedMLP, LayerNorm, RMSNorm
from lrnnx_array.models import LRU, S4D
from lrnnx_array.models.ltv import Mamba


def _silu(v):
    return v / (1 + np.exp(-v))


def test_gated_mlp_formula_and_hidden_rule():
    m = GatedMLP(10, seed=0, dtype="float64")
    assert m.hidden_features == 128  # int(8*10/3) = 26 -> 128
    assert GatedMLP(10, hidden_features=130, multiple_of=64).hidden_features == 192
    x = np.random.default_rng(0).standard_normal((2, 3, 10))
    w1, w2 = np.asarray(m.fc1.weight), np.asarray(m.fc2.weight)
    h = x @ w1.T
    want = (h[..., :128] * _silu(h[..., 128:])) @ w2.T
    testing.assert_close(m(x), want)
    assert GatedMLP(4, out_features=6, bias=True, seed=0)(np.ones((1, 4), np.float32)).shape == \
        (1, 6)


def test_gated_mlp_errors():
    with pytest.raises(TypeError, match="bias"):
        GatedMLP(4, bias="no")
    with pytest.raises(ValueError, match="in_features"):
        GatedMLP(0)
    with pytest.raises(ValueError, match="last dimension 4"):
        GatedMLP(4)(np.ones((2, 5), np.float32))


def _block(mlp=True, norm=RMSNorm, mixer=None):
    mixer = mixer or functools.partial(LRU, d_state=4, seed=0, dtype="float64")
    mlp_cls = functools.partial(GatedMLP, hidden_features=16, seed=1, dtype="float64") \
        if mlp else None
    return Block(8, mixer, mlp_cls, norm_cls=functools.partial(norm, dtype="float64"))


@pytest.mark.parametrize("mlp", [False, True])
@pytest.mark.parametrize("norm", [RMSNorm, LayerNorm])
def test_block_is_add_norm_mix_add_norm_mlp(mlp, norm):
    rng = np.random.default_rng(0)
    blk = _block(mlp, norm)
    h0, r0 = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 5, 8))
    h, r = blk(h0, r0)
    res = h0 + r0
    y = blk.mixer(blk.norm(res))
    if mlp:
        res = y + res
        y = blk.mlp(blk.norm2(res))
    testing.assert_close(h, y)
    testing.assert_close(r, res)
    # the first block has no residual: the hidden state is the residual
    h1, r1 = blk(h0)
    testing.assert_close(r1, h0 if not mlp else blk.mixer(blk.norm(h0)) + h0)
    keys = list(blk.state_dict())
    assert keys[0].startswith("norm.") and any(k.startswith("mixer.") for k in keys)
    assert ("mlp.fc1.weight" in keys) == mlp and ("norm2.weight" in keys) == mlp


@pytest.mark.parametrize("mixer", [
    functools.partial(LRU, d_state=4, seed=0),
    functools.partial(S4D, d_state=8, transposed=False, seed=0),
    functools.partial(Mamba, d_state=4, seed=0),
    functools.partial(MHA, num_heads=2, causal=True, seed=0),
], ids=["LRU", "S4D", "Mamba", "MHA"])
def test_block_step_and_prefill_equal_forward(mixer):
    rng = np.random.default_rng(1)
    blk = Block(8, mixer, functools.partial(GatedMLP, hidden_features=16, seed=1),
                norm_cls=RMSNorm)
    x = rng.standard_normal((2, 7, 8)).astype(np.float32)
    h, r = blk(x)
    cache = blk.allocate_inference_cache(2, 7)
    hp, rp = blk(x[:, :3], inference_cache=cache)
    steps = [blk.step(x[:, t:t + 1], None, cache) for t in range(3, 7)]
    testing.assert_close(np.concatenate([hp] + [s[0] for s in steps], 1), h)
    testing.assert_close(np.concatenate([rp] + [s[1] for s in steps], 1), r)


def test_block_errors():
    with pytest.raises(TypeError, match="mixer_cls"):
        Block(8, None)
    with pytest.raises(TypeError, match="mlp_cls"):
        Block(8, functools.partial(LRU, d_state=4), mlp_cls=3)
    with pytest.raises(TypeError, match="residual_in_fp32"):
        Block(8, functools.partial(LRU, d_state=4), residual_in_fp32="yes")
