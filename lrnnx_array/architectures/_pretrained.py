"""``save_pretrained`` / ``from_pretrained`` of the language model: config.json + open weights."""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np

from ..models._base import as_host_array

CONFIG = "config.json"
NPZ = "model.npz"
SAFE = "model.safetensors"
TORCH = "pytorch_model.bin"


def save(model, directory, safe_serialization=False):
    if not isinstance(safe_serialization, (bool, np.bool_)):
        raise TypeError(f"safe_serialization must be a bool, got "
                        f"{type(safe_serialization).__name__}")
    path = pathlib.Path(os.fspath(directory))
    weights = {k: as_host_array(v, k) for k, v in model.state_dict().items()}
    try:
        json.dumps(model.config["mixer_kwargs"])
        config = dict(model.config)
    except TypeError:
        config = {k: v for k, v in model.config.items() if k != "mixer_kwargs"}
    path.mkdir(parents=True, exist_ok=True)
    if safe_serialization:
        try:
            from safetensors.numpy import save_file
        except ImportError as exc:
            raise ImportError("safe_serialization=True needs the safetensors package") from exc
        save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(path / SAFE))
    else:
        # lrnnx's dotted keys are valid npz member names; allow_pickle stays off when loading
        np.savez(path / NPZ, **weights)
    with open(path / CONFIG, "w") as f:
        json.dump(config, f, indent=4)


def _read_weights(path):
    if (path / SAFE).exists():
        from safetensors.numpy import load_file

        return load_file(str(path / SAFE)), True
    if (path / NPZ).exists():
        with np.load(path / NPZ, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}, False
    if (path / TORCH).exists():
        try:
            import torch
        except ImportError as exc:
            raise ImportError(f"{path / TORCH} is a torch checkpoint; reading it needs torch "
                              "(pip install torch)") from exc
        sd = torch.load(path / TORCH, map_location="cpu", weights_only=True)
        return {k: as_host_array(v, k) for k, v in sd.items()}, False
    raise FileNotFoundError(f"no weights in {path}: expected {SAFE}, {NPZ} or {TORCH}")


def load(cls, directory, mixer_kwargs, mlp_cls, initializer_cfg, device, dtype, xp, kwargs):
    path = pathlib.Path(os.fspath(directory))
    if not (path / CONFIG).exists():
        raise FileNotFoundError(f"{path / CONFIG} does not exist")
    with open(path / CONFIG) as f:
        cfg = json.load(f)
    mk = cfg.get("mixer_kwargs") if mixer_kwargs is None else mixer_kwargs
    model = cls(
        d_model=cfg["d_model"], d_state=cfg["d_state"], n_layer=cfg["n_layer"],
        vocab_size=cfg["vocab_size"], mixer_types=cfg["mixer_types"],
        d_intermediate=cfg.get("d_intermediate", 0), mixer_kwargs=mk or None, mlp_cls=mlp_cls,
        norm_epsilon=cfg.get("norm_epsilon", 1e-5), rms_norm=cfg.get("rms_norm", True),
        fused_add_norm=cfg.get("fused_add_norm", True),
        residual_in_fp32=cfg.get("residual_in_fp32", False),
        tie_embeddings=cfg.get("tie_embeddings", True),
        pad_vocab_size_multiple=cfg.get("pad_vocab_size_multiple", 8),
        initializer_cfg=initializer_cfg, device=device, dtype=dtype, xp=xp, **kwargs)
    weights, safe = _read_weights(path)
    if safe:
        # safetensors stores 0-d arrays (S4's l_kernel) with shape (1,)
        own = model.state_dict()
        weights = {k: (v.reshape(()) if k in own and own[k].ndim == 0 and v.shape == (1,)
                       else v) for k, v in weights.items()}
    model.load_state_dict(weights)
    return model
