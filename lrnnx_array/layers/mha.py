"""``MHA``: causal softmax attention with grouped KV heads (GQA/MQA) and a KV cache.

Keys are lrnnx's / Mamba's (``in_proj``, ``conv1d``, ``out_proj``). Unlike lrnnx, whose
``LRNNModel.step`` silently skips attention layers (their tuple cache is never updated), this
layer decodes: its cache is a dict ``{"kv_cache", "conv_state", "seqlen_offset"}`` like the other
models', and :meth:`MHA.step` appends one token and attends over every cached position.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping

import numpy as np

from ..models._base import Module
from ._common import check_count, check_input, host_rng
from .activations import silu
from .linear import Linear
from .mlp import _check_bool


class MHA(Module):
    """Multi-head self-attention (lrnnx ``layers.MHA``), run against the module's ``xp``.

    Parameters
    ----------
    embed_dim : int
    num_heads : int
    num_heads_kv : int, optional
        KV heads (default ``num_heads``); ``num_heads`` must be a multiple (1 = MQA).
    head_dim : int, optional
        Default ``embed_dim // num_heads`` (then ``embed_dim`` must divide).
    mlp_dim : int, optional
        Width of a fused gated MLP branch (rounded up to a multiple of 256; 0 = none).
    qkv_proj_bias, out_proj_bias : bool, optional
        Default True.
    softmax_scale : float, optional
        Default ``head_dim ** -0.5``.
    causal : bool, optional
        Mask future positions (default False, lrnnx's; :class:`LRNNModel` makes ``"attn"``
        causal unless told otherwise).
    layer_idx : int, optional
        Stored, as in lrnnx.
    d_conv : int, optional
        Width of a depthwise causal convolution on q, k, v (0 = none).
    rotary_emb_dim : int, optional
        Rotary embedding on the first ``rotary_emb_dim`` entries of each q/k head (0 = none;
        computed here, lrnnx needs flash-attn for it).
    rotary_emb_base : float, optional
    rotary_emb_interleaved : bool, optional
        GPT-J pairs (0,1),(2,3)... instead of GPT-NeoX halves.
    device, dtype, seed, xp : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import MHA
    >>> attn = MHA(16, num_heads=4, num_heads_kv=2, causal=True, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 16)).astype(np.float32)
    >>> y = attn(x)
    >>> cache = attn.allocate_inference_cache(2, 5)
    >>> steps = [attn.step(x[:, t:t + 1], cache)[0] for t in range(5)]
    >>> bool(np.allclose(np.concatenate(steps, 1), y, atol=1e-5))
    True
    """

    def __init__(self, embed_dim, num_heads, num_heads_kv=None, head_dim=None, mlp_dim=0,
                 qkv_proj_bias=True, out_proj_bias=True, softmax_scale=None, causal=False,
                 layer_idx=None, d_conv=0, rotary_emb_dim=0, rotary_emb_base=10000.0,
                 rotary_emb_interleaved=False, device=None, dtype=None, *, seed=None, xp=None):
        super().__init__(xp=xp, device=device)
        self.embed_dim = E = check_count("embed_dim", embed_dim)
        self.num_heads = nh = check_count("num_heads", num_heads)
        self.num_heads_kv = nkv = nh if num_heads_kv is None else check_count(
            "num_heads_kv", num_heads_kv)
        if nh % nkv:
            raise ValueError(f"num_heads ({nh}) must be a multiple of num_heads_kv ({nkv})")
        if head_dim is None:
            if E % nh:
                raise ValueError(f"embed_dim ({E}) must be divisible by num_heads ({nh}) when "
                                 "head_dim is not given")
            head_dim = E // nh
        self.head_dim = hd = check_count("head_dim", head_dim)
        self.mlp_dim = math.ceil(check_count("mlp_dim", mlp_dim, 0) / 256) * 256
        self.causal = _check_bool("causal", causal)
        self.layer_idx = layer_idx
        self.d_conv = check_count("d_conv", d_conv, 0)
        self.rotary_emb_dim = check_count("rotary_emb_dim", rotary_emb_dim, 0)
        if self.rotary_emb_dim % 2 or self.rotary_emb_dim > hd:
            raise ValueError(f"rotary_emb_dim must be even and <= head_dim ({hd}), got "
                             f"{self.rotary_emb_dim}")
        self.rotary_emb_base = _positive("rotary_emb_base", rotary_emb_base)
        self.rotary_emb_interleaved = _check_bool("rotary_emb_interleaved",
                                                  rotary_emb_interleaved)
        self.softmax_scale = (1.0 / math.sqrt(hd) if softmax_scale is None
                              else _positive("softmax_scale", softmax_scale))
        _check_bool("qkv_proj_bias", qkv_proj_bias)
        _check_bool("out_proj_bias", out_proj_bias)
        self.qkv_dim = hd * (nh + 2 * nkv)
        rng = host_rng(seed)
        kw = dict(seed=rng, dtype=dtype, xp=self.xp, device=device)
        self.in_proj = Linear(E, self.qkv_dim + self.mlp_dim, bias=qkv_proj_bias, **kw)
        if self.d_conv > 0:
            from ..models.ltv.base import DepthwiseConv1d, param_dtype

            self._np_dtype = param_dtype(dtype)
            self.conv1d = DepthwiseConv1d(self.qkv_dim, self.d_conv, rng=rng,
                                          dtype=self._np_dtype, xp=self.xp, device=device)
        self.out_proj = Linear(hd * nh + self.mlp_dim // 2, E, bias=out_proj_bias, **kw)

    # -- cache ---------------------------------------------------------------------------------

    def allocate_inference_cache(self, batch_size, max_seqlen, dtype=None):
        """``{"kv_cache": (B, max_seqlen, 2, num_heads_kv, head_dim), "conv_state": (B, qkv_dim,
        d_conv) or None, "seqlen_offset": 0}``; ``seqlen_offset`` counts the cached positions."""
        from ..models.ltv.base import param_dtype

        B = check_count("batch_size", batch_size, 0)
        T = check_count("max_seqlen", max_seqlen, 1)
        dt = param_dtype(self.in_proj.weight.dtype if dtype is None else dtype)
        kv = self.asarray(np.zeros((B, T, 2, self.num_heads_kv, self.head_dim), dtype=dt))
        conv = (self.asarray(np.zeros((B, self.qkv_dim, self.d_conv), dtype=dt))
                if self.d_conv > 0 else None)
        return {"kv_cache": kv, "conv_state": conv, "seqlen_offset": 0}

    def _check_cache(self, cache, batch, length):
        owner = type(self).__name__
        if not isinstance(cache, MutableMapping) or "kv_cache" not in cache:
            raise TypeError(f"{owner}: inference_cache must be the dict of "
                            f"allocate_inference_cache, got {type(cache).__name__}")
        kv = cache["kv_cache"]
        want = (batch, self.num_heads_kv, self.head_dim)
        if kv.ndim != 5 or (kv.shape[0], kv.shape[3], kv.shape[4]) != want or kv.shape[2] != 2:
            raise ValueError(f"{owner}: inference_cache['kv_cache'] has shape {tuple(kv.shape)}, "
                             f"expected ({batch}, max_seqlen, 2, {self.num_heads_kv}, "
                             f"{self.head_dim})")
        off = cache.get("seqlen_offset", 0)
        if isinstance(off, (bool, np.bool_)) or not isinstance(off, (int, np.integer)) or off < 0:
            raise ValueError(f"{owner}: inference_cache['seqlen_offset'] must be an int >= 0, "
                             f"got {off!r}")
        if off + length > kv.shape[1]:
            raise ValueError(f"{owner}: the cache holds {kv.shape[1]} positions; {off} are used "
                             f"and {length} more were given: allocate a larger max_seqlen")
        if self.d_conv > 0:
            cs = cache.get("conv_state")
            if cs is None or tuple(cs.shape) != (batch, self.qkv_dim, self.d_conv):
                raise ValueError(f"{owner}: inference_cache['conv_state'] must have shape "
                                 f"({batch}, {self.qkv_dim}, {self.d_conv})")
        return int(off)

    # -- maths ---------------------------------------------------------------------------------

    def _rotary(self, t, start):
        """Rotate the first ``rotary_emb_dim`` entries of t (B, L, heads, hd) at positions
        start.. start+L-1 (angles in float64 on the host: positions are known integers)."""
        rd, xp = self.rotary_emb_dim, self.xp
        L = t.shape[1]
        inv = self.rotary_emb_base ** (-np.arange(0, rd, 2, dtype=np.float64) / rd)
        ang = np.arange(start, start + L, dtype=np.float64)[:, None] * inv[None, :]
        cos = self.asarray(np.cos(ang)[None, :, None, :], dtype=t.dtype)
        sin = self.asarray(np.sin(ang)[None, :, None, :], dtype=t.dtype)
        if self.rotary_emb_interleaved:
            x1, x2 = t[..., 0:rd:2], t[..., 1:rd:2]
            r = xp.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
            r = xp.reshape(r, (*t.shape[:-1], rd))
        else:
            x1, x2 = t[..., : rd // 2], t[..., rd // 2: rd]
            r = xp.concat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
        return r if rd == t.shape[-1] else xp.concat([r, t[..., rd:]], axis=-1)

    def _attend(self, q, k, v, start):
        """q (B, L, nh, hd) at positions start.., k/v (B, T, nkv, hd) at 0..T-1 -> (B, L, nh hd)."""
        xp = self.xp
        B, L, nh, hd = q.shape
        T, nkv = k.shape[1], self.num_heads_kv
        g = nh // nkv
        # head h uses kv head h // g (torch's repeat_interleave over the head axis)
        qg = xp.permute_dims(xp.reshape(q, (B, L, nkv, g, hd)), (0, 2, 3, 1, 4))
        kt = xp.permute_dims(k, (0, 2, 3, 1))[:, :, None, :, :]          # (B, nkv, 1, hd, T)
        s = xp.matmul(qg, kt) * self.softmax_scale                       # (B, nkv, g, L, T)
        if self.causal:
            allowed = (np.arange(T)[None, :] <= start + np.arange(L)[:, None])
            if not allowed.all():
                bias = np.where(allowed, 0.0, -np.inf)
                s = s + self.asarray(bias, dtype=s.dtype)
        s = s - xp.max(s, axis=-1, keepdims=True)
        p = xp.exp(s)
        p = p / xp.sum(p, axis=-1, keepdims=True)
        vv = xp.permute_dims(v, (0, 2, 1, 3))[:, :, None, :, :]          # (B, nkv, 1, T, hd)
        o = xp.matmul(p, vv)                                              # (B, nkv, g, L, hd)
        return xp.reshape(xp.permute_dims(o, (0, 3, 1, 2, 4)), (B, L, nh * hd))

    def forward(self, x, inference_cache=None, integration_timesteps=None, lengths=None):
        """``x`` (B, L, embed_dim) -> (B, L, embed_dim).

        ``integration_timesteps`` and ``lengths`` are accepted and ignored (as lrnnx's MHA is
        given them by the LM). With ``inference_cache`` the new keys and values are written at
        positions ``seqlen_offset ..`` and attended together with the cached ones, and
        ``seqlen_offset`` grows by L (a prefill, or a decode step when L = 1).
        """
        x = check_input(self, "x", x, min_ndim=3, last_dim=self.embed_dim)
        if x.ndim != 3:
            raise ValueError(f"MHA: x must have layout (batch, seqlen, embed_dim), got shape "
                             f"{tuple(x.shape)}")
        xp = self.xp
        B, L, E = x.shape
        start = 0 if inference_cache is None else self._check_cache(inference_cache, B, L)
        dt = xp.result_type(x.dtype, self.in_proj.weight.dtype)
        x = x if x.dtype == dt else xp.astype(x, dt)
        h = self.in_proj(xp.reshape(x, (B * L, E)))
        h = xp.reshape(h, (B, L, h.shape[-1]))
        qkv = h[..., : self.qkv_dim]
        if self.d_conv > 0:
            u = xp.permute_dims(qkv, (0, 2, 1))
            if inference_cache is None:
                u = self.conv1d(u)
            else:
                st = inference_cache["conv_state"]
                new = xp.astype(st, dt) if st.dtype != dt else st
                u = self.conv1d.step(u, new)
                if new is not st:
                    inference_cache["conv_state"] = xp.astype(new, st.dtype)
            qkv = xp.permute_dims(u, (0, 2, 1))
        nh, nkv, hd = self.num_heads, self.num_heads_kv, self.head_dim
        q = xp.reshape(qkv[..., : nh * hd], (B, L, nh, hd))
        k = xp.reshape(qkv[..., nh * hd: (nh + nkv) * hd], (B, L, nkv, hd))
        v = xp.reshape(qkv[..., (nh + nkv) * hd:], (B, L, nkv, hd))
        if self.rotary_emb_dim:
            q, k = self._rotary(q, start), self._rotary(k, start)
        if inference_cache is not None:
            kv = inference_cache["kv_cache"]
            kv[:, start: start + L, 0, ...] = xp.astype(k, kv.dtype)
            kv[:, start: start + L, 1, ...] = xp.astype(v, kv.dtype)
            k = xp.astype(kv[:, : start + L, 0, ...], dt)
            v = xp.astype(kv[:, : start + L, 1, ...], dt)
            inference_cache["seqlen_offset"] = start + L
        ctx = self._attend(q, k, v, start)
        if self.mlp_dim:
            m = h[..., self.qkv_dim:]
            half = self.mlp_dim // 2
            ctx = xp.concat([ctx, m[..., :half] * silu(m[..., half:], xp)], axis=-1)
        y = self.out_proj(xp.reshape(ctx, (B * L, ctx.shape[-1])))
        return xp.reshape(y, (B, L, E))

    def step(self, x, inference_cache, integration_timesteps=None):
        """One token: x (B, 1, embed_dim) or (B, embed_dim) -> ((B, 1, embed_dim), cache)."""
        if inference_cache is None:
            raise TypeError("MHA.step: inference_cache is required (a dict from "
                            "allocate_inference_cache), got None")
        x = check_input(self, "x", x, min_ndim=2, last_dim=self.embed_dim)
        if x.ndim == 2:
            x = x[:, None, :]
        if x.ndim != 3 or x.shape[1] != 1:
            raise ValueError(f"MHA.step: x must have shape (batch, 1, embed_dim), got "
                             f"{tuple(x.shape)}")
        return self.forward(x, inference_cache), inference_cache


def _positive(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                       np.floating)):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return value
