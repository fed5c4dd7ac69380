"""``LRUUnet``: lrnnx's aTENNuate-style U-Net of LRU blocks, buildable and exactly causal.

lrnnx's ``LRUUnet`` cannot be built (its block calls ``LRU(N=..., H=...)``), and with
``causal=True`` it is not causal for resample factors above 2: a stride-r convolution mixes r
future samples into each down-sampled step, and the one-sample shift after the transposed
convolution does not undo that. Here a causal U-Net shifts the input of every down-sampling by
r - 1 steps, so down-sampled step k sees inputs up to k r, and the up-sampled steps k r .. k r +
r - 1 come from it: every output depends on past and present inputs only. Keys follow lrnnx's
module tree (``down_ssms.{i}.0.0.lru_layer.*``, ``down_ssms.{i}.1.conv.weight``, ``hid_ssms``,
``up_ssms.{i}.0.deconv.weight``, ``last_ssms``, ``final_proj.weight``).
"""

from __future__ import annotations

import math

import numpy as np

from ..layers import LayerNorm, silu
from ..layers._common import check_count, check_input, host_rng, param_dtype
from ..layers.mlp import _check_bool
from ..models._base import Module
from ..models.lti import LRU
from ._common import ModuleList


class _LRUBlock(Module):
    """``lru_layer``: LRU(d_model=C, d_state=C) on (B, T, C)."""

    def __init__(self, channels, *, seed, dtype, xp, device):
        super().__init__(xp=xp, device=device)
        self.lru_layer = LRU(channels, channels, seed=seed, dtype=dtype, xp=xp, device=device)

    def forward(self, x):
        return self.lru_layer(x)


class _LayerNormFeature(Module):
    def __init__(self, channels, *, dtype, xp, device):
        super().__init__(xp=xp, device=device)
        self.norm = LayerNorm(channels, dtype=dtype, xp=xp, device=device)

    def forward(self, x):
        return self.norm(x)


class _SiLU(Module):
    def forward(self, x):
        return silu(x, self.xp)


class _Sequential(ModuleList):
    def forward(self, x):
        for m in self:
            x = m(x)
        return x


def _lru_block(channels, activation, rng, dtype, xp, device):
    """[LRU block, LayerNorm (if C > 1), SiLU] or the LRU block alone."""
    mods = [_LRUBlock(channels, seed=int(rng.integers(2**31)), dtype=dtype, xp=xp,
                      device=device)]
    if activation:
        if channels > 1:
            mods.append(_LayerNormFeature(channels, dtype=dtype, xp=xp, device=device))
        mods.append(_SiLU(xp=xp, device=device))
    return _Sequential(mods, xp=xp, device=device)


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, shape)


class _DownPool(Module):
    """``conv``: Conv1d(C, 2C, kernel r, stride r), torch's init; causal: input shifted r-1."""

    def __init__(self, channels, factor, causal, *, rng, dtype, xp, device):
        super().__init__(xp=xp, device=device)
        self.factor, self.causal = factor, causal
        self.conv = Module(xp=xp, device=device)
        b = 1 / math.sqrt(channels * factor)
        self.conv.register_parameter("weight", self.asarray(
            _uniform(rng, b, (2 * channels, channels, factor)), dtype=dtype))
        self.conv.register_parameter("bias", self.asarray(_uniform(rng, b, (2 * channels,)),
                                                          dtype=dtype))

    def forward(self, x):
        """(B, T, C) -> (B, T / r, 2C)."""
        xp, r = self.xp, self.factor
        B, T, C = x.shape
        if self.causal and r > 1:
            x = xp.concat([xp.zeros((B, r - 1, C), dtype=x.dtype), x[:, : T - (r - 1), :]],
                          axis=1)
        w = xp.reshape(xp.permute_dims(self.conv.weight, (0, 2, 1)), (2 * C, r * C))  # (o, j c)
        y = xp.matmul(xp.reshape(x, (B * (T // r), r * C)), xp.matrix_transpose(w))
        return xp.reshape(y, (B, T // r, 2 * C)) + self.conv.bias


class _UpPool(Module):
    """``deconv``: ConvTranspose1d(C, C/2, kernel r, stride r), weight (C, C/2, r)."""

    def __init__(self, channels, factor, *, rng, dtype, xp, device):
        super().__init__(xp=xp, device=device)
        self.factor = factor
        self.deconv = Module(xp=xp, device=device)
        out = channels // 2
        b = 1 / math.sqrt(out * factor)  # torch's fan-in of a transposed conv weight
        self.deconv.register_parameter("weight", self.asarray(
            _uniform(rng, b, (channels, out, factor)), dtype=dtype))
        self.deconv.register_parameter("bias", self.asarray(_uniform(rng, b, (out,)),
                                                            dtype=dtype))

    def forward(self, x):
        """(B, K, C) -> (B, K r, C/2): step k r + j = sum_c x[k, c] W[c, :, j] + bias."""
        xp, r = self.xp, self.factor
        B, K, C = x.shape
        out = C // 2
        w = xp.reshape(xp.permute_dims(self.deconv.weight, (0, 2, 1)), (C, r * out))
        y = xp.matmul(xp.reshape(x, (B * K, C)), w)
        return xp.reshape(y, (B, K * r, out)) + self.deconv.bias


class LRUUnet(Module):
    """U-Net of LRU blocks on (B, C_in, T) signals (lrnnx ``LRUUnet``).

    Channels start at ``in_channels`` and double at each of the ``len(resample_factors)``
    levels (``channels`` only sets the depth, as in lrnnx). T is zero-padded at the end to a
    multiple of the product of the factors and cropped back.

    Parameters
    ----------
    in_channels, out_channels : int, optional
    channels : list of int, optional
        Same length as ``resample_factors``.
    resample_factors : list of int, optional
        Default [4, 2].
    pre_conv : bool, optional
        Accepted and unused (as in lrnnx).
    causal : bool, optional
        Exactly causal down/up-sampling (default True; see the module notes).
    dtype, seed, xp, device : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.architectures import LRUUnet
    >>> net = LRUUnet(in_channels=2, out_channels=1, channels=[4, 8], seed=0)
    >>> net(np.zeros((3, 2, 37), dtype=np.float32)).shape
    (3, 1, 37)
    """

    def __init__(self, in_channels=1, out_channels=1, channels=(8, 16), resample_factors=(4, 2),
                 pre_conv=False, causal=True, dtype=None, *, seed=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.in_channels = C = check_count("in_channels", in_channels)
        self.out_channels = check_count("out_channels", out_channels)
        factors = [check_count("resample_factors entry", r) for r in resample_factors]
        if len(list(channels)) != len(factors):
            raise ValueError(f"Length of channels ({len(list(channels))}) must match length of "
                             f"resample_factors ({len(factors)})")
        if not factors:
            raise ValueError("resample_factors must have at least one entry")
        self.resample_factors = factors
        self.causal = _check_bool("causal", causal)
        self.pre_conv = pre_conv
        self.total_downsample = int(np.prod(factors))
        rng = host_rng(seed)
        dt = param_dtype(self.xp, dtype)
        kw = dict(dtype=dt, xp=self.xp, device=device)
        down, cur = [], C
        for r in factors:
            down.append(_Sequential([_lru_block(cur, True, rng, **kw),
                                     _DownPool(cur, r, self.causal, rng=rng, **kw)],
                                    xp=self.xp, device=device))
            cur *= 2
        self.down_ssms = ModuleList(down, xp=self.xp, device=device)
        self.hid_ssms = _Sequential([_lru_block(cur, True, rng, **kw),
                                     _lru_block(cur, True, rng, **kw)], xp=self.xp,
                                    device=device)
        up = []
        for r in factors[::-1]:
            up.append(_Sequential([_UpPool(cur, r, rng=rng, **kw),
                                   _lru_block(cur // 2, True, rng, **kw)], xp=self.xp,
                                  device=device))
            cur //= 2
        self.up_ssms = ModuleList(up, xp=self.xp, device=device)
        self.last_ssms = _Sequential([_lru_block(C, True, rng, **kw),
                                      _lru_block(C, False, rng, **kw)], xp=self.xp,
                                     device=device)
        if C != self.out_channels:
            self.final_proj = Module(xp=self.xp, device=device)
            self.final_proj.register_parameter("weight", self.asarray(
                _uniform(rng, 1 / math.sqrt(C), (self.out_channels, C, 1)), dtype=dt))
        else:
            object.__setattr__(self, "final_proj", None)

    def forward(self, x):
        """(B, in_channels, T) -> (B, out_channels, T)."""
        x = check_input(self, "x", x, min_ndim=3)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"LRUUnet: x must have shape (batch, {self.in_channels}, T), got "
                             f"{tuple(x.shape)}")
        xp = self.xp
        B, C, T = x.shape
        pad = (-T) % self.total_downsample
        h = xp.permute_dims(x, (0, 2, 1))
        if pad:
            h = xp.concat([h, xp.zeros((B, pad, C), dtype=h.dtype)], axis=1)
        skips = []
        for level in self.down_ssms:
            skips.append(h)
            h = level[1](level[0](h))
        h = self.hid_ssms(h)
        for level, skip in zip(self.up_ssms, skips[::-1]):
            h = level[1](level[0](h) + skip)
        h = self.last_ssms(h)
        if self.final_proj is not None:
            w = xp.astype(self.final_proj.weight[:, :, 0], h.dtype)
            h = xp.matmul(h, xp.matrix_transpose(w))
        return xp.permute_dims(h[:, :T, :], (0, 2, 1))
