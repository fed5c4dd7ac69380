"""SequencePooling with lengths against direct NumPy loops; Classifier; LRUUnet shapes and
causality (exact with causal=True, violated without)."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.architectures import (
    Classifier,
    ClassifierBlock,
    LRUUnet,
    SequencePooling,
    TokenEmbedding,
)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 7, 4))
LENS = np.array([7, 3, 1])


@pytest.mark.parametrize("kind", ["last", "mean", "max"])
def test_final_pooling_with_lengths(kind):
    got, _, _ = SequencePooling(kind)(X, lengths=LENS)
    for b, n in enumerate(LENS):
        valid = X[b, :n]
        want = {"last": valid[-1], "mean": valid.mean(0), "max": valid.max(0)}[kind]
        testing.assert_close(got[b], want)
    full, _, _ = SequencePooling(kind)(X)
    testing.assert_close(full, {"last": X[:, -1], "mean": X.mean(1), "max": X.max(1)}[kind])


@pytest.mark.parametrize("kind", ["stride", "mean", "max"])
def test_intermediate_pooling_with_lengths_and_timesteps(kind):
    tau = RNG.uniform(0.1, 1.0, (3, 7))
    out, t2, l2 = SequencePooling(kind, 2)(X, lengths=LENS, integration_timesteps=tau)
    if kind == "stride":
        testing.assert_close(out, X[:, ::2])
        testing.assert_close(t2, tau[:, ::2])
        np.testing.assert_array_equal(l2, [4, 2, 1])
        return
    assert out.shape == (3, 3, 4)
    for b, n in enumerate(LENS):
        for k in range(3):
            win = X[b, 2 * k: 2 * k + 2]
            valid = np.arange(2 * k, 2 * k + 2) < n
            if kind == "mean":
                want = (win * valid[:, None]).mean(0)
            else:
                want = np.where(valid[:, None], win, -1e9).max(0)
            testing.assert_close(out[b, k], want)
    testing.assert_close(t2, tau[:, :6].reshape(3, 3, 2).sum(-1))
    np.testing.assert_array_equal(l2, [3, 2, 1])


def test_pooling_errors():
    with pytest.raises(ValueError, match="pooling_type"):
        SequencePooling("stride")
    with pytest.raises(ValueError, match="lengths"):
        SequencePooling("last")(X, lengths=np.array([8, 1, 1]))
    with pytest.raises(TypeError, match="integer dtype"):
        SequencePooling("last")(X, lengths=np.array([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        SequencePooling("mean")(X, lengths=np.array([1, 2]))


@pytest.mark.parametrize("lrnn", ["LRU", "S5", "Centaurus", "Mamba", "S4D"])
def test_classifier_shapes_lengths_and_masking(lrnn):
    params = {"S5": {"discretization": "zoh"}, "Centaurus": {"sub_state_dim": 2},
              "S4D": {"transposed": False}}.get(lrnn, {})
    clf = Classifier(4, num_classes=5, d_model=8, d_state=4, n_layers=2, lrnn_cls=lrnn,
                     pooling="mean", lrnn_params=params, seed=0).eval()
    x = RNG.standard_normal((3, 7, 4)).astype(np.float32)
    y = clf(x, lengths=LENS)
    assert y.shape == (3, 5)
    # with "last" pooling, steps after a sequence's length cannot change its output (causal
    # mixers, no intermediate pooling)
    last = Classifier(4, num_classes=5, d_model=8, d_state=4, n_layers=2, lrnn_cls=lrnn,
                      lrnn_params=params, seed=0).eval()
    x2 = x.copy()
    x2[1, 3:] += 5.0
    testing.assert_close(last(x2, lengths=LENS)[1], last(x, lengths=LENS)[1])


def test_classifier_tokens_regression_and_intermediate_pooling():
    clf = Classifier(0, output_dim=2, d_model=8, d_state=4, n_layers=3, vocab_size=20,
                     embedding_dim=6, intermediate_pooling=["mean", "stride", "none"],
                     seed=0).eval()
    ids = RNG.integers(1, 20, (2, 16))
    assert clf(ids, lengths=np.array([16, 5])).shape == (2, 2)
    assert "embed_proj.weight" in clf.state_dict()
    assert "embedding.token_embedding.weight" in clf.state_dict()
    assert "final_block.output_proj.weight" in clf.state_dict()
    with pytest.raises(ValueError, match="n_layers"):
        Classifier(3, n_layers=2, lrnn_cls=["LRU"])
    with pytest.raises(ValueError, match="unknown mixer"):
        ClassifierBlock(8, 4, "Nope")


def test_token_embedding_positions():
    emb = TokenEmbedding(10, 4, max_position_embeddings=5, use_position=True, dropout=0.0,
                         seed=0)
    ids = np.array([[1, 2, 3]])
    tok = np.asarray(emb.token_embedding.weight)[ids]
    pos = np.asarray(emb.position_embedding.position_embedding.weight)[:3]
    testing.assert_close(emb(ids), tok + pos[None])
    with pytest.raises(ValueError, match="max_position_embeddings"):
        emb(np.zeros((1, 6), np.int64))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        TokenEmbedding(10, 4, use_position=True)


@pytest.mark.parametrize("factors", [[4, 2], [2, 3], [3]])
def test_unet_shapes(factors):
    net = LRUUnet(2, 3, channels=[4] * len(factors), resample_factors=factors, seed=0)
    for T in (1, 23, 24):
        assert net(np.zeros((2, 2, T), np.float32)).shape == (2, 3, T)
    assert LRUUnet(seed=0)(np.zeros((1, 1, 10), np.float32)).shape == (1, 1, 10)


@pytest.mark.parametrize("factors", [[4, 2], [3, 3]])
def test_unet_is_causal(factors):
    # 3 channels: a LayerNorm over 2 channels keeps only the sign of their difference
    net = LRUUnet(3, 2, channels=[4] * len(factors), resample_factors=factors, dtype="float64",
                  seed=1)
    x = np.random.default_rng(2).standard_normal((2, 3, 40))
    y = net(x)
    for t in (5, 17, 30):
        x2 = x.copy()
        x2[..., t:] += np.random.default_rng(t).standard_normal(x2[..., t:].shape)
        y2 = net(x2)
        testing.assert_close(y2[..., :t], y[..., :t])
        assert np.abs(y2[..., t:] - y[..., t:]).max() > 1e-6
    leaky = LRUUnet(3, 2, channels=[4] * len(factors), resample_factors=factors,
                    causal=False, dtype="float64", seed=1)
    x2 = x.copy()
    x2[..., 17:] += 1.0
    assert np.abs(leaky(x2)[..., :17] - leaky(x)[..., :17]).max() > 1e-6


def test_unet_errors():
    with pytest.raises(ValueError, match="must match"):
        LRUUnet(channels=[4], resample_factors=[2, 2])
    with pytest.raises(ValueError, match=r"shape \(batch, 1, T\)"):
        LRUUnet(seed=0)(np.zeros((1, 2, 8), np.float32))
