"""``LayerNorm`` and ``RMSNorm`` over the last axis, with torch's key names."""

from __future__ import annotations

import numpy as np

from ..models._base import Module
from ._common import check_count, check_eps, check_input, param_dtype


def _check_flag(name, value):
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def _cast(xp, x, w):
    dt = xp.result_type(x.dtype, w.dtype)
    return (x if x.dtype == dt else xp.astype(x, dt)), dt


class LayerNorm(Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last axis (biased variance).

    Parameters
    ----------
    normalized_shape : int
        Size of the last axis.
    eps : float, optional
        Added to the variance (default 1e-5, torch's).
    elementwise_affine : bool, optional
        Learn ``weight`` (ones) and, with ``bias``, ``bias`` (zeros). Default True.
    bias : bool, optional
    dtype, xp, device : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import LayerNorm
    >>> ln = LayerNorm(4)
    >>> y = ln(np.arange(8, dtype=np.float32).reshape(2, 4))
    >>> np.allclose(y.mean(-1), 0, atol=1e-6)
    True
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, *, dtype=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.normalized_shape = check_count("normalized_shape", normalized_shape, 1)
        self.eps = check_eps("eps", eps)
        self.elementwise_affine = _check_flag("elementwise_affine", elementwise_affine)
        self.has_bias = _check_flag("bias", bias) and self.elementwise_affine
        dt = param_dtype(self.xp, dtype)
        self._dtype = dt
        if self.elementwise_affine:
            self.register_parameter("weight", self.asarray(np.ones(self.normalized_shape), dt))
            if self.has_bias:
                self.register_parameter("bias", self.asarray(np.zeros(self.normalized_shape), dt))

    def forward(self, x):
        x = check_input(self, "x", x, last_dim=self.normalized_shape)
        xp = self.xp
        ref = self.weight if self.elementwise_affine else xp.zeros((), dtype=x.dtype)
        x, dt = _cast(xp, x, ref)
        mu = xp.mean(x, axis=-1, keepdims=True)
        d = x - mu
        var = xp.mean(d * d, axis=-1, keepdims=True)
        y = d / xp.sqrt(var + self.eps)
        if self.elementwise_affine:
            y = y * xp.astype(self.weight, dt)
            if self.has_bias:
                y = y + xp.astype(self.bias, dt)
        return y


class RMSNorm(Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last axis (Mamba's / lrnnx's RMSNorm).

    Parameters
    ----------
    hidden_size : int
    eps : float, optional
        Default 1e-5 (lrnnx's ``RMSNorm(hidden_size, eps=1e-5)``).
    dtype, xp, device : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import RMSNorm
    >>> y = RMSNorm(4)(np.full((1, 4), 3.0, dtype=np.float32))
    >>> np.allclose(y, 1.0, atol=1e-5)
    True
    """

    def __init__(self, hidden_size, eps: float = 1e-5, *, dtype=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.hidden_size = check_count("hidden_size", hidden_size, 1)
        self.eps = check_eps("eps", eps)
        dt = param_dtype(self.xp, dtype)
        self.register_parameter("weight", self.asarray(np.ones(self.hidden_size), dt))

    def forward(self, x):
        x = check_input(self, "x", x, last_dim=self.hidden_size)
        xp = self.xp
        x, dt = _cast(xp, x, self.weight)
        ms = xp.mean(x * x, axis=-1, keepdims=True)
        return x / xp.sqrt(ms + self.eps) * xp.astype(self.weight, dt)
