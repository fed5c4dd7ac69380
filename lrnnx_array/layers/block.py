"""``Block``: add -> norm -> mixer [-> add -> norm2 -> MLP], returning (hidden, residual).

The Mamba-style pre-norm block of lrnnx's language model. One block type serves every mixer,
so the block also knows how each kind of mixer is called: LTV models and :class:`MHA` take
(B, L, H) sequences and (B, 1, H) steps and can prefill a cache in their forward; LTI models take
(B, H) steps and have no cache in their forward (a prefill then runs their step over the
sequence); S4/S4D forwards return ``(y, state)``, unwrapped here.
"""

from __future__ import annotations

import inspect

from ..models._base import Module
from ._common import check_count
from .mha import MHA
from .mlp import _check_bool


def mixer_kind(mixer) -> str:
    """``"ltv"`` (sequence-shaped steps, cache in forward), ``"attn"`` or ``"lti"``."""
    from ..models.ltv.base import LTV_LRNN

    if isinstance(mixer, MHA):
        return "attn"
    if isinstance(mixer, LTV_LRNN):
        return "ltv"
    return "lti"


def _accepts(fn, name) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class Block(Module):
    """Pre-norm residual block around a sequence mixer (lrnnx ``layers.Block``).

    Parameters
    ----------
    dim : int
        Model width H.
    mixer_cls : callable
        ``mixer_cls(dim)`` builds the mixer (e.g. ``functools.partial(S5, d_state=16,
        discretization="zoh", xp=xp)``).
    mlp_cls : callable or None
        ``mlp_cls(dim)`` builds the MLP after the mixer; None for none (lrnnx's ``nn.Identity``).
    norm_cls : callable, optional
        ``norm_cls(dim)``; default :class:`~lrnnx_array.layers.LayerNorm`.
    fused_add_norm : bool, optional
        Accepted for lrnnx compatibility: the fused kernel computes the same sums.
    residual_in_fp32 : bool, optional
        Keep the residual stream in at least float32 (a float64 model keeps float64).

    Attributes
    ----------
    norm, mixer, norm2, mlp : Module (``norm2``/``mlp`` absent without ``mlp_cls``)

    Examples
    --------
    >>> import functools
    >>> import numpy as np
    >>> from lrnnx_array.layers import Block, GatedMLP, RMSNorm
    >>> from lrnnx_array.models import LRU
    >>> blk = Block(8, functools.partial(LRU, d_state=4, seed=0),
    ...             functools.partial(GatedMLP, hidden_features=16, seed=1), norm_cls=RMSNorm)
    >>> x = np.random.default_rng(0).standard_normal((2, 6, 8)).astype(np.float32)
    >>> h, r = blk(x)
    >>> h.shape, r.shape
    ((2, 6, 8), (2, 6, 8))
    """

    def __init__(self, dim, mixer_cls, mlp_cls=None, norm_cls=None, fused_add_norm=True,
                 residual_in_fp32=False):
        from .norm import LayerNorm

        super().__init__()
        self.dim = check_count("dim", dim)
        norm_cls = LayerNorm if norm_cls is None else norm_cls
        for name, f in (("mixer_cls", mixer_cls), ("norm_cls", norm_cls)):
            if not callable(f):
                raise TypeError(f"{name} must be callable (dim -> module), got "
                                f"{type(f).__name__}")
        if mlp_cls is not None and not callable(mlp_cls):
            raise TypeError(f"mlp_cls must be callable or None, got {type(mlp_cls).__name__}")
        self.fused_add_norm = _check_bool("fused_add_norm", fused_add_norm)
        self.residual_in_fp32 = _check_bool("residual_in_fp32", residual_in_fp32)
        norm = norm_cls(self.dim)
        mixer = mixer_cls(self.dim)
        if not isinstance(mixer, Module):
            raise TypeError(f"mixer_cls must build a Module, got {type(mixer).__name__}")
        object.__setattr__(self, "xp", mixer.xp)
        object.__setattr__(self, "device", mixer.device)
        self.norm = norm
        self.mixer = mixer
        self.kind = mixer_kind(mixer)
        if mlp_cls is not None:
            self.norm2 = norm_cls(self.dim)
            self.mlp = mlp_cls(self.dim)
        else:
            object.__setattr__(self, "mlp", None)
        fwd = mixer.forward
        self._mixer_kw = {k for k in ("integration_timesteps", "lengths") if _accepts(fwd, k)}

    # -- helpers -------------------------------------------------------------------------------

    def _add_norm(self, norm, hidden, residual):
        xp = self.xp
        residual = hidden if residual is None else hidden + residual
        if self.residual_in_fp32 and residual.dtype not in (xp.float32, xp.float64):
            residual = xp.astype(residual, xp.float32)
        return norm(residual), residual

    def _mlp(self, hidden, residual):
        if self.mlp is None:
            return hidden, residual
        normed, residual = self._add_norm(self.norm2, hidden, residual)
        return self.mlp(normed), residual

    def _mix_step(self, normed, cache, integration_timesteps):
        """The mixer on one token normed (B, 1, H) -> (B, 1, H), cache updated."""
        if self.kind == "ltv":
            y, _ = self.mixer.step(normed, cache, integration_timesteps)
        elif self.kind == "attn":
            y, _ = self.mixer.step(normed, cache)
        else:
            y, _ = self.mixer.step(normed[:, 0, :], cache)
            y = y[:, None, :]
        return y

    # -- public --------------------------------------------------------------------------------

    def forward(self, hidden_states, residual=None, inference_cache=None,
                integration_timesteps=None, lengths=None):
        """``(hidden (B, L, H), residual)`` -> ``(hidden, residual)``.

        ``integration_timesteps`` and ``lengths`` go to mixers whose forward takes them. With
        ``inference_cache`` (from :meth:`allocate_inference_cache`) the mixer's cache is filled
        as by running the sequence token by token (LTI mixers do exactly that).
        """
        xp = self.xp
        normed, residual = self._add_norm(self.norm, hidden_states, residual)
        kw = {}
        if integration_timesteps is not None and "integration_timesteps" in self._mixer_kw:
            kw["integration_timesteps"] = integration_timesteps
        if lengths is not None and "lengths" in self._mixer_kw:
            kw["lengths"] = lengths
        if inference_cache is None:
            y = self.mixer(normed, **kw)
        elif self.kind == "lti":
            L = normed.shape[1]
            y = xp.concat([self._mix_step(normed[:, t: t + 1, :], inference_cache, None)
                           for t in range(L)], axis=1) if L else self.mixer(normed)
        else:
            y = self.mixer(normed, inference_cache=inference_cache, **kw)
        if isinstance(y, tuple):  # S4/S4D: (y, state)
            y = y[0]
        return self._mlp(y, residual)

    def step(self, hidden_states, residual, inference_cache, integration_timesteps=None):
        """One token: hidden (B, 1, H), residual (B, 1, H) or None -> (hidden, residual)."""
        normed, residual = self._add_norm(self.norm, hidden_states, residual)
        y = self._mix_step(normed, inference_cache, integration_timesteps)
        return self._mlp(y, residual)

    def allocate_inference_cache(self, batch_size, max_seqlen, dtype=None):
        """The mixer's cache (``max_seqlen`` matters to attention only)."""
        return self.mixer.allocate_inference_cache(batch_size, max_seqlen, dtype=dtype)
