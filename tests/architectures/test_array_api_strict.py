"""The layers and architectures use only the array API: on array_api_strict they give NumPy's
results (same seeds, same parameters)."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.architectures import Classifier, LRNNLMHeadModel, LRUUnet
from lrnnx_array.generation import generate
from lrnnx_array.layers import MHA
from lrnnx_array.models import LRU

xps = pytest.importorskip("array_api_strict")


def _same(make, run):
    got, want = run(make(xps), xps), run(make(None), None)
    testing.assert_close(np.asarray(got), want, check_namespace=False)


def _arr(xp, v):
    return v if xp is None else xp.asarray(v)


def test_mha_prefill_and_step():
    x = np.random.default_rng(0).standard_normal((2, 5, 16)).astype(np.float32)

    def run(m, xp):
        cache = m.allocate_inference_cache(2, 5)
        pre = m(_arr(xp, x[:, :3]), inference_cache=cache)
        return np.concatenate([np.asarray(pre)] + [np.asarray(m.step(_arr(xp, x[:, t:t + 1]),
                                                                     cache)[0])
                                                   for t in (3, 4)], 1)

    _same(lambda xp: MHA(16, 4, num_heads_kv=2, causal=True, rotary_emb_dim=4, d_conv=3,
                         mlp_dim=8, seed=0, xp=xp), run)


def test_language_model_forward_and_step():
    ids = np.array([[1, 2, 3, 4]])

    def run(lm, xp):
        caches = lm.allocate_inference_cache(1, 5)
        out = lm(_arr(xp, ids), inference_params=caches).logits
        nxt = lm.step(_arr(xp, ids[:, :1]), caches).logits
        return np.concatenate([np.asarray(out), np.asarray(nxt)], 1)

    _same(lambda xp: LRNNLMHeadModel(16, 8, 3, 50, ["LRU", "attn", "Mamba"], d_intermediate=16,
                                     mixer_kwargs={"attn": {"num_heads": 4}}, seed=0, xp=xp),
          run)


def test_classifier_unet_generate():
    x = np.random.default_rng(1).standard_normal((2, 6, 3)).astype(np.float32)
    lens = np.array([6, 3])
    _same(lambda xp: Classifier(3, num_classes=4, d_model=8, d_state=4, n_layers=2, seed=0,
                                intermediate_pooling=["mean", "none"], xp=xp).eval(),
          lambda m, xp: m(_arr(xp, x), lengths=_arr(xp, lens)))
    sig = np.random.default_rng(2).standard_normal((1, 2, 13)).astype(np.float32)
    _same(lambda xp: LRUUnet(2, 1, channels=[4, 8], seed=0, xp=xp),
          lambda m, xp: m(_arr(xp, sig)))
    x0 = np.ones((2, 8), np.float32)
    _same(lambda xp: LRU(8, 4, seed=0, xp=xp), lambda m, xp: generate(m, _arr(xp, x0), 4))
