"""lrnnx's language model: ``LRNNModel`` (embedding, Blocks, final norm) and ``LRNNLMHeadModel``.

Mixers are chosen per layer by name (:func:`mixer_registry`: lrnnx's LRU, S4, S4D, S5,
Centaurus, Mamba, RGLRU, S7, plus the Centaurus variants, ``"S5LTV"`` and ``"attn"``). Keys
are lrnnx's (``backbone.embedding.weight``, ``backbone.layers.{i}.norm.weight``,
``backbone.layers.{i}.mixer.*``, ``backbone.norm_f.weight``, ``lm_head.weight``), so lrnnx's
``pytorch_model.bin`` loads. Differences: attention layers are stepped (lrnnx skips them),
"attn" is causal unless ``mixer_kwargs["attn"]["causal"]`` says otherwise, and the GPT-2 init
keeps the mixers' own biases (see README, Differences from lrnnx).
"""

from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from ..layers import Embedding, GatedMLP, LayerNorm, RMSNorm
from ..layers._common import check_count, host_rng
from ..layers.block import Block
from ..layers.mlp import _check_bool
from ..models._base import Module
from ..models.ltv.base import param_dtype
from ._common import (
    ModuleList,
    check_ids,
    gpt2_rescale,
    mixer_class,
    takes,
    takes_any_kwargs,
    zero_biases,
)

CausalLMOutput = namedtuple("CausalLMOutput", ["logits"])


def _mixer_kwargs_for(mixer_kwargs, types):
    if mixer_kwargs is None:
        return {}
    if not isinstance(mixer_kwargs, dict):
        raise TypeError(f"mixer_kwargs must be a dict of mixer type -> dict of keyword "
                        f"arguments, got {type(mixer_kwargs).__name__}")
    for k, v in mixer_kwargs.items():
        mixer_class(k)  # raises on an unknown name
        if not isinstance(v, dict):
            raise TypeError(f"mixer_kwargs[{k!r}] must be a dict, got {type(v).__name__}")
    return mixer_kwargs


def _mixer_factory(kind, d_state, kwargs, layer_idx, seed, dtype, xp, device):
    cls = mixer_class(kind)
    kw = dict(kwargs)
    if kind == "attn":
        kw.setdefault("causal", True)
        kw["layer_idx"] = layer_idx
    elif takes(cls, "d_state") and "d_state" not in kw:
        kw["d_state"] = d_state
    if kind in ("S4", "S4D"):
        kw.setdefault("transposed", False)  # the LM's layout is (B, L, H); lrnnx's default breaks
    if kind in ("Mamba", "RGLRU", "S7") and "layer_idx" not in kw:
        kw["layer_idx"] = layer_idx
    factory = dict(seed=seed, dtype=dtype, xp=xp, device=device)
    if not (takes_any_kwargs(cls) or all(takes(cls, k) for k in factory)):
        factory = {k: v for k, v in factory.items() if takes(cls, k)}
    return functools.partial(cls, **kw, **factory)


class LRNNModel(Module):
    """The backbone: embedding, ``n_layer`` :class:`~lrnnx_array.layers.Block`, ``norm_f``.

    Parameters
    ----------
    d_model, d_state, n_layer, vocab_size : int
        ``d_state`` is given to every mixer whose constructor takes it.
    mixer_types : list of str
        One mixer name per layer (see module doc).
    d_intermediate : int, optional
        Hidden width of a GatedMLP after each mixer (0, the default: no MLP).
    mixer_kwargs : dict, optional
        Mixer name -> keyword arguments, e.g. ``{"S5": {"discretization": "zoh"},
        "attn": {"num_heads": 4}}``.
    mlp_cls : callable, optional
        ``mlp_cls(dim, hidden_features=, out_features=)``; default GatedMLP.
    norm_epsilon : float, optional
    rms_norm : bool, optional
        RMSNorm (default) or LayerNorm.
    initializer_cfg : dict, optional
        ``initializer_range`` (0.02) and ``rescale_prenorm_residual`` (True).
    fused_add_norm, residual_in_fp32 : bool, optional
        As :class:`~lrnnx_array.layers.Block`.
    device, dtype : optional
    seed, xp : optional
        Host RNG seed of the initialisation, array namespace.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.architectures import LRNNModel
    >>> m = LRNNModel(16, 8, 2, 50, ["LRU", "attn"], mixer_kwargs={"attn": {"num_heads": 2}},
    ...               seed=0)
    >>> m(np.array([[1, 2, 3]])).shape
    (1, 3, 16)
    """

    def __init__(self, d_model, d_state, n_layer, vocab_size, mixer_types, d_intermediate=0,
                 mixer_kwargs=None, mlp_cls=None, norm_epsilon=1e-5, rms_norm=True,
                 initializer_cfg=None, fused_add_norm=True, residual_in_fp32=False,
                 device=None, dtype=None, *, seed=None, xp=None):
        super().__init__(xp=xp, device=device)
        self.d_model = H = check_count("d_model", d_model)
        self.d_state = check_count("d_state", d_state)
        self.n_layer = check_count("n_layer", n_layer)
        self.vocab_size = check_count("vocab_size", vocab_size)
        self.d_intermediate = check_count("d_intermediate", d_intermediate, 0)
        if isinstance(mixer_types, str) or not hasattr(mixer_types, "__len__"):
            raise TypeError(f"mixer_types must be a list of mixer names, got "
                            f"{type(mixer_types).__name__}")
        if len(mixer_types) != self.n_layer:
            raise ValueError(f"mixer_types must have length n_layer ({self.n_layer}), got "
                             f"{len(mixer_types)}")
        for t in mixer_types:
            mixer_class(t)
        self.mixer_types = list(mixer_types)
        mk = _mixer_kwargs_for(mixer_kwargs, self.mixer_types)
        self.rms_norm = _check_bool("rms_norm", rms_norm)
        self.fused_add_norm = _check_bool("fused_add_norm", fused_add_norm)
        self.residual_in_fp32 = _check_bool("residual_in_fp32", residual_in_fp32)
        cfg = dict(initializer_cfg or {})
        unknown = set(cfg) - {"initializer_range", "rescale_prenorm_residual"}
        if unknown:
            raise ValueError(f"initializer_cfg has unknown keys {sorted(unknown)}")
        dt = param_dtype(dtype).name
        self.dtype = dt
        rng = host_rng(seed)
        xp = self.xp
        fk = dict(dtype=dt, xp=xp, device=device)
        self.embedding = Embedding(self.vocab_size, H, init_std=cfg.get("initializer_range",
                                                                        0.02), seed=rng, **fk)
        norm_cls = functools.partial(RMSNorm if self.rms_norm else LayerNorm, eps=norm_epsilon,
                                     **fk)
        layers = []
        for i, kind in enumerate(self.mixer_types):
            mixer = _mixer_factory(kind, self.d_state, mk.get(kind, {}), i,
                                   int(rng.integers(2**31)), dt, xp, device)
            mlp = None
            if self.d_intermediate > 0:
                mlp = functools.partial(mlp_cls or GatedMLP, hidden_features=self.d_intermediate,
                                        out_features=H, seed=int(rng.integers(2**31)), **fk)
            blk = Block(H, mixer, mlp, norm_cls=norm_cls, fused_add_norm=self.fused_add_norm,
                        residual_in_fp32=self.residual_in_fp32)
            blk.layer_idx = i
            if kind == "attn":
                zero_biases(blk.mixer)
            if blk.mlp is not None:
                zero_biases(blk.mlp)
            layers.append(blk)
        self.layers = ModuleList(layers, xp=xp, device=device)
        self.norm_f = norm_cls(H)
        gpt2_rescale(self, self.n_layer, 1 if self.d_intermediate == 0 else 2, rng,
                     cfg.get("rescale_prenorm_residual", True))

    def _final(self, hidden, residual):
        residual = hidden if residual is None else hidden + residual
        return self.norm_f(residual)

    def forward(self, input_ids, inference_params=None, integration_timesteps=None,
                lengths=None):
        """Token ids (B, L) -> hidden states (B, L, d_model).

        ``integration_timesteps`` (B, L) and ``lengths`` (B,) go to every mixer that takes them.
        ``inference_params`` (from :meth:`allocate_inference_cache`) is filled as a prefill, so
        :meth:`step` continues after the sequence.
        """
        ids = check_ids(type(self).__name__, "input_ids", input_ids, (2,))
        caches = self._check_caches(inference_params)
        h = self.embedding(ids)
        r = None
        for i, blk in enumerate(self.layers):
            h, r = blk(h, r, None if caches is None else caches[i],
                       integration_timesteps=integration_timesteps, lengths=lengths)
        return self._final(h, r)

    def step(self, input_ids, caches, integration_timesteps=None):
        """One token per sequence: ids (B, 1) or (B,) -> hidden (B, 1, d_model), caches updated.

        Every layer is stepped, attention included (lrnnx skips attention layers here).
        """
        ids = check_ids(type(self).__name__, "input_ids", input_ids, (1, 2))
        if ids.ndim == 2 and ids.shape[1] != 1:
            raise ValueError(f"{type(self).__name__}.step: input_ids must have shape (batch, 1), "
                             f"got {tuple(ids.shape)}")
        caches = self._check_caches(caches, required=True)
        h = self.embedding(self.xp.reshape(ids, (-1, 1)))
        r = None
        for i, blk in enumerate(self.layers):
            h, r = blk.step(h, r, caches[i], integration_timesteps)
        return self._final(h, r)

    def _check_caches(self, caches, required=False):
        if caches is None:
            if required:
                raise TypeError(f"{type(self).__name__}.step: caches is required (from "
                                "allocate_inference_cache), got None")
            return None
        if not isinstance(caches, dict) or any(i not in caches for i in range(self.n_layer)):
            raise TypeError(f"{type(self).__name__}: caches must be the dict layer index -> "
                            f"cache of allocate_inference_cache ({self.n_layer} layers)")
        return caches

    def allocate_inference_cache(self, batch_size, max_seqlen, dtype=None):
        """``{layer index: that mixer's cache}`` (``max_seqlen`` sizes the attention caches)."""
        return {i: blk.allocate_inference_cache(batch_size, max_seqlen, dtype=dtype)
                for i, blk in enumerate(self.layers)}


class LRNNLMHeadModel(Module):
    """:class:`LRNNModel` plus a language-model head (lrnnx ``LRNNLMHeadModel``).

    Parameters
    ----------
    d_model, d_state, n_layer, vocab_size, mixer_types, d_intermediate, mixer_kwargs, mlp_cls,
    norm_epsilon, rms_norm, fused_add_norm, residual_in_fp32, initializer_cfg
        As :class:`LRNNModel`.
    tie_embeddings : bool, optional
        The head is the embedding matrix (default True); ``state_dict()`` lists it under
        ``lm_head.weight`` too, as torch does for tied weights.
    pad_vocab_size_multiple : int, optional
        The vocabulary is padded up to a multiple of this (default 8).
    device, dtype, seed, xp : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.architectures import LRNNLMHeadModel
    >>> lm = LRNNLMHeadModel(16, 8, 2, 50, ["S5", "Mamba"],
    ...                      mixer_kwargs={"S5": {"discretization": "zoh"}}, seed=0)
    >>> lm(np.array([[1, 2, 3]])).logits.shape
    (1, 3, 56)
    >>> caches = lm.allocate_inference_cache(1, 4)
    >>> lm.step(np.array([[1]]), caches).logits.shape
    (1, 1, 56)
    """

    def __init__(self, d_model, d_state, n_layer, vocab_size, mixer_types, d_intermediate=0,
                 mixer_kwargs=None, mlp_cls=None, norm_epsilon=1e-5, rms_norm=True,
                 fused_add_norm=True, residual_in_fp32=False, tie_embeddings=True,
                 pad_vocab_size_multiple=8, initializer_cfg=None, device=None, dtype=None, *,
                 seed=None, xp=None):
        super().__init__(xp=xp, device=device)
        self.vocab_size = check_count("vocab_size", vocab_size)
        self.pad_vocab_size_multiple = m = check_count("pad_vocab_size_multiple",
                                                       pad_vocab_size_multiple)
        self.tie_embeddings = _check_bool("tie_embeddings", tie_embeddings)
        self.padded_vocab_size = -(-self.vocab_size // m) * m
        rng = host_rng(seed)
        self.backbone = LRNNModel(d_model, d_state, n_layer, self.padded_vocab_size, mixer_types,
                                  d_intermediate, mixer_kwargs, mlp_cls, norm_epsilon, rms_norm,
                                  initializer_cfg, fused_add_norm, residual_in_fp32, device,
                                  dtype, seed=rng, xp=xp)
        self.config = dict(
            d_model=self.backbone.d_model, d_state=self.backbone.d_state,
            n_layer=self.backbone.n_layer, vocab_size=self.vocab_size,
            mixer_types=list(mixer_types), d_intermediate=self.backbone.d_intermediate,
            norm_epsilon=float(norm_epsilon), rms_norm=bool(rms_norm),
            fused_add_norm=bool(fused_add_norm), residual_in_fp32=bool(residual_in_fp32),
            tie_embeddings=self.tie_embeddings, pad_vocab_size_multiple=m,
            mixer_kwargs=mixer_kwargs or {})
        if not self.tie_embeddings:
            from ..layers import Linear

            self.lm_head = Linear(self.backbone.d_model, self.padded_vocab_size, bias=False,
                                  seed=rng, dtype=self.backbone.dtype, xp=self.xp, device=device)

    # -- tied head in the state dict -----------------------------------------------------------

    def state_dict(self) -> dict:
        out = super().state_dict()
        if self.tie_embeddings:
            out["lm_head.weight"] = self.backbone.embedding.weight
        return out

    def load_state_dict(self, state_dict, strict=True):
        """As :meth:`Module.load_state_dict`; with tied embeddings ``lm_head.weight`` may be
        present (it must then equal ``backbone.embedding.weight``) or absent."""
        from ..models._base import as_host_array

        if self.tie_embeddings and hasattr(state_dict, "keys") and "lm_head.weight" in state_dict:
            state_dict = dict(state_dict)
            head = as_host_array(state_dict.pop("lm_head.weight"), "lm_head.weight")
            emb = state_dict.get("backbone.embedding.weight")
            if emb is not None and not np.array_equal(head, as_host_array(emb, "embedding")):
                raise ValueError("lm_head.weight differs from backbone.embedding.weight but the "
                                 "model ties them (tie_embeddings=True)")
        tied = self.tie_embeddings
        object.__setattr__(self, "tie_embeddings", False)
        try:
            Module.load_state_dict(self, state_dict, strict=strict)
        finally:
            object.__setattr__(self, "tie_embeddings", tied)

    # -- forward -------------------------------------------------------------------------------

    def _logits(self, h):
        xp = self.xp
        if self.tie_embeddings:
            w = self.backbone.embedding.weight
            B, L, H = h.shape
            y = xp.matmul(xp.reshape(h, (B * L, H)), xp.matrix_transpose(xp.astype(w, h.dtype)))
            return CausalLMOutput(logits=xp.reshape(y, (B, L, w.shape[0])))
        return CausalLMOutput(logits=self.lm_head(h))

    def forward(self, input_ids, position_ids=None, inference_params=None, num_last_tokens=0,
                integration_timesteps=None, lengths=None):
        """Token ids (B, L) -> ``CausalLMOutput(logits (B, L or num_last_tokens, V_padded))``.

        ``position_ids`` is accepted and unused (as in lrnnx).
        """
        n = check_count("num_last_tokens", num_last_tokens, 0)
        h = self.backbone(input_ids, inference_params=inference_params,
                          integration_timesteps=integration_timesteps, lengths=lengths)
        if n > 0:
            h = h[:, max(h.shape[1] - n, 0):, :]
        return self._logits(h)

    def step(self, input_ids, caches, integration_timesteps=None):
        """One token: ids (B, 1) -> ``CausalLMOutput(logits (B, 1, V_padded))``."""
        return self._logits(self.backbone.step(input_ids, caches, integration_timesteps))

    def allocate_inference_cache(self, batch_size, max_seqlen, dtype=None):
        return self.backbone.allocate_inference_cache(batch_size, max_seqlen, dtype=dtype)

    # -- checkpoints ---------------------------------------------------------------------------

    def save_pretrained(self, save_directory, safe_serialization=False):
        """Write ``config.json`` and the weights (``model.npz``; ``model.safetensors`` with
        ``safe_serialization=True``, which needs the safetensors package)."""
        from ._pretrained import save

        save(self, save_directory, safe_serialization)

    @classmethod
    def from_pretrained(cls, pretrained_model_path, mixer_kwargs=None, mlp_cls=None,
                        initializer_cfg=None, device=None, dtype=None, *, xp=None, **kwargs):
        """Build from ``config.json`` and load ``model.safetensors``, ``model.npz`` or lrnnx's
        ``pytorch_model.bin`` (the latter needs torch). lrnnx's config has no mixer_kwargs: pass
        the ones the checkpoint was made with."""
        from ._pretrained import load

        return load(cls, pretrained_model_path, mixer_kwargs, mlp_cls, initializer_cfg, device,
                    dtype, xp, kwargs)
