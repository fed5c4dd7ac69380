"""``Linear``: ``y = x W^T + b`` with torch's layout, key names and default initialisation."""

from __future__ import annotations

import math

from ..models._base import Module
from ._common import check_count, check_input, host_rng, param_dtype


class Linear(Module):
    """Affine map on the last axis, as ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes (``in_features`` may be 0: the output is then the bias).
    bias : bool, optional
        Add a learned bias (default True).
    seed : int or numpy.random.Generator, optional
        Host RNG for the initialisation: ``weight`` and ``bias`` ~ U(-1/sqrt(in), 1/sqrt(in)),
        torch's default (kaiming_uniform with a = sqrt 5 gives the same bound).
    dtype : optional
        Parameter dtype, float32 (default) or float64.
    xp, device : optional
        Namespace and device of the parameters.

    Attributes
    ----------
    weight : array (out_features, in_features)
    bias : array (out_features,) or absent

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import Linear
    >>> lin = Linear(4, 3, seed=0)
    >>> sorted(lin.state_dict())
    ['bias', 'weight']
    >>> lin(np.ones((2, 5, 4), dtype=np.float32)).shape
    (2, 5, 3)
    """

    def __init__(self, in_features, out_features, bias: bool = True, *, seed=None, dtype=None,
                 xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.in_features = check_count("in_features", in_features, 0)
        self.out_features = check_count("out_features", out_features, 1)
        if not isinstance(bias, bool) and type(bias).__name__ != "bool_":
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        dt = param_dtype(self.xp, dtype)
        rng = host_rng(seed)
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        w = rng.uniform(-bound, bound, (self.out_features, self.in_features))
        self.register_parameter("weight", self.asarray(w, dtype=dt))
        self.has_bias = bool(bias)
        if self.has_bias:
            b = rng.uniform(-bound, bound, (self.out_features,))
            self.register_parameter("bias", self.asarray(b, dtype=dt))

    def forward(self, x):
        """``x`` (..., in_features) -> (..., out_features); dtype by promotion with the weight."""
        x = check_input(self, "x", x, last_dim=self.in_features)
        xp = self.xp
        w = self.weight
        dt = xp.result_type(x.dtype, w.dtype)
        if x.dtype != dt:
            x = xp.astype(x, dt)
        if w.dtype != dt:
            w = xp.astype(w, dt)
        y = xp.matmul(x, xp.matrix_transpose(w)) if x.ndim > 1 else xp.matmul(w, x)
        if self.has_bias:
            b = self.bias if self.bias.dtype == dt else xp.astype(self.bias, dt)
            y = y + b
        return y
