"""LRNNModel / LRNNLMHeadModel: causality, step = forward for every mixer and mixed stacks
(attention included), event-mode Mamba, checkpoints (npz, safetensors, torch .bin)."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.architectures import CausalLMOutput, LRNNLMHeadModel, LRNNModel, mixer_registry

KW = {"S4": {}, "S4D": {"disc": "zoh"}, "S5": {"discretization": "zoh"},
      "Centaurus": {"sub_state_dim": 4}, "CentaurusPWNeck": {"sub_state_dim": 2},
      "CentaurusDWS": {"sub_state_dim": 2, "d_state": 16},
      "CentaurusFull": {"sub_state_dim": 2, "d_state": 256},
      "CentaurusNeck": {"sub_state_dim": 2}, "attn": {"num_heads": 4},
      "Mamba": {"discretization": "mamba"}}
ALL = sorted(mixer_registry())


def _lm(types, d_intermediate=0, dtype=None, seed=0, **kw):
    mk = {t: KW[t] for t in set(types) if t in KW}
    return LRNNLMHeadModel(16, 8, len(types), 50, types, d_intermediate=d_intermediate,
                           mixer_kwargs=mk, pad_vocab_size_multiple=16, dtype=dtype, seed=seed,
                           **kw)


def _ids(B=2, L=10, seed=0):
    return np.random.default_rng(seed).integers(0, 50, (B, L))


def test_shapes_padding_and_output_type():
    lm = _lm(["LRU", "attn"])
    out = lm(_ids())
    assert isinstance(out, CausalLMOutput) and out.logits.shape == (2, 10, 64)
    assert lm(_ids(), num_last_tokens=3).logits.shape == (2, 3, 64)
    testing.assert_close(lm(_ids(), num_last_tokens=3).logits, out.logits[:, -3:])
    assert LRNNModel(16, 8, 1, 50, ["S7"], seed=0)(_ids()).shape == (2, 10, 16)
    assert lm(np.zeros((0, 4), np.int64)).logits.shape == (0, 4, 64)


def test_prefix_causality_mixed_stack():
    lm = _lm(["S4", "S4D", "S5", "LRU", "Centaurus", "Mamba", "RGLRU", "S7", "S5LTV", "attn"],
             d_intermediate=24)
    ids = _ids(L=12)
    full = lm(ids).logits
    testing.assert_close(lm(ids[:, :6]).logits, full[:, :6])
    other = ids.copy()
    other[:, 6:] = (other[:, 6:] + 7) % 50
    testing.assert_close(lm(other).logits[:, :6], full[:, :6])
    assert np.abs(lm(other).logits[:, 6:] - full[:, 6:]).max() > 1e-4


def _step_all(lm, ids, caches, tau=None):
    return np.concatenate([lm.step(ids[:, t:t + 1], caches,
                                   None if tau is None else tau[:, t]).logits
                           for t in range(ids.shape[1])], 1)


@pytest.mark.parametrize("mixer", ALL)
def test_step_equals_forward_each_mixer(mixer):
    lm = _lm([mixer, mixer])
    ids = _ids()
    caches = lm.allocate_inference_cache(2, ids.shape[1])
    testing.assert_close(_step_all(lm, ids, caches), lm(ids).logits)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_step_and_prefill_equal_forward_mixed_stack(dtype):
    lm = _lm(["LRU", "S5", "attn", "Mamba", "S4D", "attn", "RGLRU"], d_intermediate=24,
             dtype=dtype)
    ids = _ids(L=11)
    want = lm(ids).logits
    assert want.dtype == np.dtype(dtype)
    caches = lm.allocate_inference_cache(2, 11)
    testing.assert_close(_step_all(lm, ids, caches), want)
    # prefill 6 tokens through forward, then step the rest
    caches = lm.allocate_inference_cache(2, 11)
    pre = lm(ids[:, :6], inference_params=caches).logits
    rest = _step_all(lm, ids[:, 6:], caches)
    testing.assert_close(np.concatenate([pre, rest], 1), want)


def test_event_mode_mamba_in_an_lm():
    # time steps of order one, so that the decay (and with it the event timing) matters
    lm = LRNNLMHeadModel(16, 8, 3, 50, ["Mamba", "attn", "Mamba"], mixer_kwargs={
        "Mamba": {"dt_min": 0.2, "dt_max": 1.0}, "attn": {"num_heads": 4}}, seed=0)
    ids = _ids(L=9)
    tau = np.random.default_rng(3).uniform(0.0, 3.0, (2, 9)).astype(np.float32)
    plain, event = lm(ids).logits, lm(ids, integration_timesteps=tau).logits
    assert np.abs(plain - event).max() > 1e-3  # lrnnx: "not allclose at atol 1e-3"
    caches = lm.allocate_inference_cache(2, 9)
    testing.assert_close(_step_all(lm, ids, caches, tau), event)


def test_tied_embeddings_and_state_dict_keys():
    lm = _lm(["LRU", "attn"], d_intermediate=24)
    sd = lm.state_dict()
    assert list(sd)[0] == "backbone.embedding.weight" and "lm_head.weight" in sd
    assert sd["lm_head.weight"] is sd["backbone.embedding.weight"]
    assert "backbone.layers.1.mixer.in_proj.weight" in sd and "backbone.norm_f.weight" in sd
    assert "backbone.layers.0.mlp.fc2.weight" in sd and "backbone.layers.0.norm2.weight" in sd
    untied = _lm(["LRU", "attn"], tie_embeddings=False)
    assert untied.state_dict()["lm_head.weight"] is not \
        untied.state_dict()["backbone.embedding.weight"]
    bad = {k: np.asarray(v) for k, v in sd.items()}
    bad["lm_head.weight"] = bad["lm_head.weight"] + 1
    with pytest.raises(ValueError, match="lm_head.weight differs"):
        lm.load_state_dict(bad)
    # a state dict without the alias loads too
    lm.load_state_dict({k: v for k, v in sd.items() if k != "lm_head.weight"})


def test_gpt2_init_scales_residual_projections():
    lm = _lm(["attn"] * 4, d_intermediate=32)
    w = np.asarray(lm.backbone.layers[0].mlp.fc2.weight)
    bound = 1 / np.sqrt(w.shape[1]) / np.sqrt(2 * 4)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.all(np.asarray(lm.backbone.layers[0].mixer.in_proj.bias) == 0)
    assert abs(np.std(np.asarray(lm.backbone.embedding.weight)) - 0.02) < 0.005


@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_save_load_round_trip(tmp_path, fmt):
    if fmt == "safetensors":
        pytest.importorskip("safetensors")
    lm = _lm(["S5", "attn", "Mamba", "S4"], d_intermediate=24, seed=3)
    lm.save_pretrained(tmp_path, safe_serialization=fmt == "safetensors")
    assert (tmp_path / "config.json").exists()
    back = LRNNLMHeadModel.from_pretrained(tmp_path)
    ids = _ids()
    np.testing.assert_array_equal(back(ids).logits, lm(ids).logits)
    assert set(back.state_dict()) == set(lm.state_dict())


def test_load_torch_checkpoint(tmp_path):
    """lrnnx writes ``pytorch_model.bin`` (a torch state dict) and a config.json without
    mixer_kwargs; from_pretrained reads both when torch is installed."""
    torch = pytest.importorskip("torch")
    import json

    lm = _lm(["S5", "attn", "LRU"], seed=5)
    sd = {k: torch.from_numpy(np.array(v)) for k, v in lm.state_dict().items()}
    torch.save(sd, tmp_path / "pytorch_model.bin")
    cfg = {k: v for k, v in lm.config.items() if k != "mixer_kwargs"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    back = LRNNLMHeadModel.from_pretrained(
        tmp_path, mixer_kwargs={"S5": {"discretization": "zoh"}, "attn": {"num_heads": 4}})
    np.testing.assert_array_equal(back(_ids()).logits, lm(_ids()).logits)


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        LRNNLMHeadModel.from_pretrained(tmp_path)
    _lm(["LRU"]).save_pretrained(tmp_path)
    (tmp_path / "model.npz").unlink()
    with pytest.raises(FileNotFoundError, match="no weights"):
        LRNNLMHeadModel.from_pretrained(tmp_path)


@pytest.mark.parametrize("args, exc, match", [
    (dict(mixer_types=["LRU", "Nope"]), ValueError, "unknown mixer type"),
    (dict(mixer_types=["LRU"]), ValueError, "length n_layer"),
    (dict(mixer_types="LRU"), TypeError, "list of mixer names"),
    (dict(mixer_kwargs={"dt_min": 0.01}), ValueError, "unknown mixer type"),
    (dict(mixer_kwargs={"LRU": 3}), TypeError, "mixer_kwargs"),
    (dict(initializer_cfg={"foo": 1}), ValueError, "initializer_cfg"),
    (dict(rms_norm=1), TypeError, "rms_norm"),
])
def test_constructor_errors(args, exc, match):
    base = dict(d_model=8, d_state=4, n_layer=2, vocab_size=10, mixer_types=["LRU", "LRU"])
    with pytest.raises(exc, match=match):
        LRNNLMHeadModel(**{**base, **args})


def test_call_errors():
    lm = _lm(["LRU", "attn"])
    with pytest.raises(TypeError, match="integer dtype"):
        lm(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        lm(np.full((1, 3), 64))
    with pytest.raises(ValueError, match="dimensions"):
        lm(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="caches"):
        lm.step(np.zeros((1, 1), np.int64), None)
    with pytest.raises(ValueError, match=r"shape \(batch, 1\)"):
        lm.step(np.zeros((1, 2), np.int64), lm.allocate_inference_cache(1, 2))
    with pytest.raises(TypeError, match="num_last_tokens"):
        lm(_ids(), num_last_tokens=1.5)


LRNNX_MIXERS = ["LRU", "S4", "S4D", "S5", "Centaurus", "Mamba", "RGLRU", "S7"]
LRNNX_KW = {"S4D": {"disc": "zoh"}, "S5": {"discretization": "zoh"},
            "Centaurus": {"sub_state_dim": 8}, "attn": {"num_heads": 8}}


@pytest.mark.slow
@pytest.mark.parametrize("types", [[m] * 12 for m in LRNNX_MIXERS]
                         + [["LRU", "S5", "attn"] * 4], ids=lambda t: "+".join(sorted(set(t))))
def test_lrnnx_grid_step_and_prefix(types):
    """lrnnx's test_language_model sizes (12 layers, H=256, N=128, vocab 1000 padded to 16,
    L=128; B=4 instead of 32): step loop = forward, prefix causality."""
    mixed = "attn" in types
    lm = LRNNLMHeadModel(256, 128, 12, 1000, types, d_intermediate=512 if mixed else 0,
                         mixer_kwargs={t: LRNNX_KW[t] for t in set(types) if t in LRNNX_KW},
                         pad_vocab_size_multiple=16, seed=0)
    ids = np.random.default_rng(0).integers(0, 1000, (4, 128))
    want = lm(ids).logits
    assert want.shape == (4, 128, 1008)
    testing.assert_close(lm(ids[:, :64]).logits, want[:, :64])
    caches = lm.allocate_inference_cache(4, 128)
    testing.assert_close(_step_all(lm, ids, caches), want)
