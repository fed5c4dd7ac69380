"""MHA against a float64 per-head softmax-attention oracle; KV-cache decoding = forward."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.layers import MHA


def _rotate(t, pos, rd, base, interleaved):
    """Rotary embedding by explicit 2x2 rotations of index pairs (float64)."""
    t = t.copy()
    half = rd // 2
    for i in range(half):
        theta = pos * base ** (-2.0 * i / rd)
        a, b = (2 * i, 2 * i + 1) if interleaved else (i, i + half)
        x1, x2 = t[..., a].copy(), t[..., b].copy()
        t[..., a] = x1 * np.cos(theta) - x2 * np.sin(theta)
        t[..., b] = x1 * np.sin(theta) + x2 * np.cos(theta)
    return t


def oracle(m, x):
    """Float64 attention head by head from the layer's weights (no conv)."""
    sd = {k: np.asarray(v, np.float64) for k, v in m.state_dict().items()}
    B, L, E = x.shape
    nh, nkv, hd = m.num_heads, m.num_heads_kv, m.head_dim
    h = x @ sd["in_proj.weight"].T + sd.get("in_proj.bias", 0.0)
    q = h[..., : nh * hd].reshape(B, L, nh, hd)
    k = h[..., nh * hd: (nh + nkv) * hd].reshape(B, L, nkv, hd)
    v = h[..., (nh + nkv) * hd: m.qkv_dim].reshape(B, L, nkv, hd)
    out = np.zeros((B, L, nh, hd))
    for b in range(B):
        for head in range(nh):
            kv = head // (nh // nkv)
            for i in range(L):
                qi = q[b, i, head]
                ks, vs = k[b, :, kv], v[b, :, kv]
                if m.rotary_emb_dim:
                    qi = _rotate(qi, i, m.rotary_emb_dim, m.rotary_emb_base,
                                 m.rotary_emb_interleaved)
                    ks = np.stack([_rotate(ks[j], j, m.rotary_emb_dim, m.rotary_emb_base,
                                           m.rotary_emb_interleaved) for j in range(L)])
                s = ks @ qi * m.softmax_scale
                if m.causal:
                    s[i + 1:] = -np.inf
                p = np.exp(s - s.max())
                out[b, i, head] = (p / p.sum()) @ vs
    ctx = out.reshape(B, L, nh * hd)
    if m.mlp_dim:
        mm = h[..., m.qkv_dim:]
        up, gate = mm[..., : m.mlp_dim // 2], mm[..., m.mlp_dim // 2:]
        ctx = np.concatenate([ctx, up * gate / (1 + np.exp(-gate))], -1)
    return ctx @ sd["out_proj.weight"].T + sd.get("out_proj.bias", 0.0)


CONFIGS = [
    dict(num_heads=4),
    dict(num_heads=4, num_heads_kv=2),
    dict(num_heads=4, num_heads_kv=1),
    dict(num_heads=2, head_dim=6, qkv_proj_bias=False, out_proj_bias=False),
    dict(num_heads=4, rotary_emb_dim=4),
    dict(num_heads=4, num_heads_kv=2, rotary_emb_dim=2, rotary_emb_interleaved=True),
    dict(num_heads=2, mlp_dim=20),
]


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_forward_matches_oracle(cfg, causal):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 16))
    m = MHA(16, causal=causal, seed=1, dtype="float64", **cfg)
    testing.assert_close(m(x), oracle(m, x))
    m32 = MHA(16, causal=causal, seed=1, **cfg)
    testing.assert_close(m32(x.astype(np.float32)), oracle(m32, x).astype(np.float32))


@pytest.mark.parametrize("cfg", CONFIGS + [dict(num_heads=4, d_conv=4, num_heads_kv=2),
                                           dict(num_heads=2, d_conv=3, rotary_emb_dim=8,
                                                mlp_dim=5)],
                         ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_prefill_then_steps_equal_forward(cfg):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 9, 16)).astype(np.float32)
    m = MHA(16, causal=True, seed=3, **cfg)
    y = m(x)
    cache = m.allocate_inference_cache(3, 12)
    parts = [m(x[:, :4], inference_cache=cache)]
    assert cache["seqlen_offset"] == 4
    parts += [m.step(x[:, t:t + 1], cache)[0] for t in range(4, 9)]
    assert cache["seqlen_offset"] == 9
    testing.assert_close(np.concatenate(parts, 1), y)


def test_causality_and_its_absence():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 8, 16)).astype(np.float32)
    x2 = x.copy()
    x2[:, 5:] += 1.0
    causal = MHA(16, 4, causal=True, seed=0)
    testing.assert_close(causal(x2)[:, :5], causal(x)[:, :5])
    full = MHA(16, 4, causal=False, seed=0)
    assert np.abs(full(x2)[:, :5] - full(x)[:, :5]).max() > 1e-3


def test_conv_branch_is_causal_depthwise_conv():
    """With d_conv the q/k/v are causal depthwise convolutions of the projections."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 6, 8))
    m = MHA(8, 2, d_conv=3, causal=True, seed=0, dtype="float64")
    ref = MHA(8, 2, causal=True, seed=0, dtype="float64")
    ref.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith("conv1d")})
    # with the conv set to the identity tap (weight [0, 0, 1], no bias) both layers agree
    m.load_state_dict({**m.state_dict(),
                       "conv1d.weight": np.tile([0.0, 0.0, 1.0], (m.qkv_dim, 1, 1)),
                       "conv1d.bias": np.zeros(m.qkv_dim)})
    testing.assert_close(m(x), ref(x))


def test_float64_and_float16_inputs():
    m = MHA(8, 2, causal=True, seed=0)
    x = np.random.default_rng(0).standard_normal((1, 3, 8))
    assert m(x.astype(np.float16)).dtype == np.float32
    assert MHA(8, 2, seed=0, dtype="float64")(x).dtype == np.float64


def test_zero_batch():
    m = MHA(8, 2, causal=True, seed=0)
    assert m(np.zeros((0, 3, 8), np.float32)).shape == (0, 3, 8)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(embed_dim=8, num_heads=3), ValueError, "divisible"),
    (dict(embed_dim=8, num_heads=4, num_heads_kv=3), ValueError, "multiple of num_heads_kv"),
    (dict(embed_dim=8, num_heads=2, rotary_emb_dim=3), ValueError, "rotary_emb_dim"),
    (dict(embed_dim=8, num_heads=2, causal=1), TypeError, "causal"),
    (dict(embed_dim=8, num_heads="2"), TypeError, "num_heads"),
    (dict(embed_dim=8, num_heads=2, softmax_scale=-1.0), ValueError, "softmax_scale"),
])
def test_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        MHA(**kwargs)


def test_call_errors_leave_cache_untouched():
    m = MHA(8, 2, causal=True, seed=0)
    with pytest.raises(TypeError, match="x"):
        m(np.zeros((1, 3, 8), np.int64))
    with pytest.raises(ValueError, match="last dimension 8"):
        m(np.zeros((1, 3, 5), np.float32))
    with pytest.raises(TypeError, match="inference_cache"):
        m.step(np.zeros((1, 1, 8), np.float32), None)
    cache = m.allocate_inference_cache(1, 2)
    m(np.ones((1, 2, 8), np.float32), inference_cache=cache)
    before = cache["kv_cache"].copy()
    with pytest.raises(ValueError, match="max_seqlen"):
        m.step(np.ones((1, 1, 8), np.float32), cache)
    assert cache["seqlen_offset"] == 2 and np.array_equal(cache["kv_cache"], before)
    with pytest.raises(ValueError, match="kv_cache"):
        m.step(np.ones((2, 1, 8), np.float32), cache)
