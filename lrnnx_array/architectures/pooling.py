"""``SequencePooling``: length-aware intermediate (stride/mean/max, shortening the sequence)
and final (last/mean/max, one vector per sequence) pooling, as lrnnx's classifier."""

from __future__ import annotations

import array_api_compat
import numpy as np

from ..layers._common import check_count, check_input
from ..models._base import Module

_INTERMEDIATE = ("stride", "mean", "max")
_FINAL = ("last", "mean", "max")
_FILL = -1e9  # lrnnx's fill for padded positions under max pooling


def check_lengths(owner, lengths, B, L):
    """``lengths`` (B,) integers in [0, L] as a host NumPy array, or None."""
    if lengths is None:
        return None
    try:
        xp = array_api_compat.array_namespace(lengths)
    except TypeError as exc:
        raise TypeError(f"{owner}: lengths must be an integer array of shape ({B},), got "
                        f"{type(lengths).__name__}") from exc
    if xp.isdtype(lengths.dtype, "bool") or not xp.isdtype(lengths.dtype, "integral"):
        raise TypeError(f"{owner}: lengths must have an integer dtype, got {lengths.dtype}")
    host = np.asarray(lengths.get() if hasattr(lengths, "get") else lengths)
    if host.shape != (B,):
        raise ValueError(f"{owner}: lengths must have shape ({B},), got {host.shape}")
    if host.size and (host.min() < 0 or host.max() > L):
        raise ValueError(f"{owner}: lengths must be in [0, {L}], got min {host.min()}, "
                         f"max {host.max()}")
    return host


class SequencePooling(Module):
    """Pool (B, L, D) sequences, honouring ``lengths``.

    Parameters
    ----------
    pooling_type : {"last", "mean", "max", "stride"}
        With ``stride > 1``: "stride" keeps every stride-th step, "mean"/"max" pool windows of
        ``stride`` steps (padded steps count as zeros for mean and are excluded from max, as in
        lrnnx); the remainder of L is dropped. With ``stride == 1``: "last" (the step at
        ``lengths - 1``), "mean" or "max" over the valid steps -> (B, D).
    stride : int, optional

    Returns (from ``forward``)
    -------
    (pooled, integration_timesteps, lengths) : pooled (B, L', D) or (B, D); τ summed over
    each window (taken every stride-th step for "stride"); lengths of the pooled sequences.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.architectures import SequencePooling
    >>> x = np.arange(12, dtype=np.float32).reshape(1, 4, 3)
    >>> SequencePooling("last")(x, lengths=np.array([2]))[0]
    array([[3., 4., 5.]], dtype=float32)
    """

    def __init__(self, pooling_type="last", stride=1, *, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.stride = check_count("stride", stride)
        allowed = _INTERMEDIATE if self.stride > 1 else _FINAL
        if pooling_type not in allowed:
            raise ValueError(f"pooling_type must be one of {allowed} for stride "
                             f"{self.stride}, got {pooling_type!r}")
        self.pooling_type = pooling_type

    def _mask(self, lengths, B, L, dtype):
        if lengths is None:
            return None
        m = (np.arange(L)[None, :] < lengths[:, None]).astype(np.float64)[:, :, None]
        return self.asarray(m, dtype=dtype)

    def forward(self, x, lengths=None, integration_timesteps=None):
        x = check_input(self, "x", x, min_ndim=3)
        if x.ndim != 3:
            raise ValueError(f"SequencePooling: x must be (batch, seqlen, dim), got "
                             f"{tuple(x.shape)}")
        xp = self.xp
        B, L, D = x.shape
        host_len = check_lengths("SequencePooling", lengths, B, L)
        tau = integration_timesteps
        if tau is not None:
            tau = check_input(self, "integration_timesteps", tau, min_ndim=2)
            if tuple(tau.shape) != (B, L):
                raise ValueError(f"SequencePooling: integration_timesteps must have shape "
                                 f"({B}, {L}), got {tuple(tau.shape)}")
        mask = self._mask(host_len, B, L, x.dtype)
        s = self.stride
        if s > 1:
            if self.pooling_type == "stride":
                out = x[:, ::s, :]
                tau = None if tau is None else tau[:, ::s]
                Lp = out.shape[1]
            else:
                Lp = L // s
                xm = x if mask is None else x * mask
                if self.pooling_type == "max" and mask is not None:
                    xm = xm + (1.0 - mask) * _FILL
                win = xp.reshape(xm[:, : Lp * s, :], (B, Lp, s, D))
                out = xp.mean(win, axis=2) if self.pooling_type == "mean" else xp.max(win, axis=2)
                if tau is not None:
                    tau = xp.sum(xp.reshape(tau[:, : Lp * s], (B, Lp, s)), axis=2)
            new_len = None
            if host_len is not None:
                new_len = np.minimum(-(-host_len // s), Lp)
                new_len = self.asarray(new_len.astype(np.int64))
            return out, tau, new_len
        if self.pooling_type == "last":
            if host_len is None:
                pooled = x[:, -1, :]
            else:
                idx = np.clip(host_len - 1, 0, L - 1)
                onehot = self.asarray(np.eye(L)[idx], dtype=x.dtype)      # (B, L)
                pooled = xp.sum(x * onehot[:, :, None], axis=1)
        elif self.pooling_type == "mean":
            if host_len is None:
                pooled = xp.mean(x, axis=1)
            else:
                cnt = self.asarray(np.maximum(host_len, 1)[:, None], dtype=x.dtype)
                pooled = xp.sum(x * mask, axis=1) / cnt
        else:
            pooled = xp.max(x if mask is None else x * mask + (1.0 - mask) * _FILL, axis=1)
        return pooled, integration_timesteps, lengths
