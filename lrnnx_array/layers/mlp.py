"""``GatedMLP``: ``fc2(y * act(gate))`` with ``[y, gate] = fc1(x)`` (Mamba's / lrnnx's MLP)."""

from __future__ import annotations

import math

from ..models._base import Module
from ._common import check_count, check_input
from .activations import Activation
from .linear import Linear


def _check_bool(name, value):
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


class GatedMLP(Module):
    """Gated feed-forward layer on the last axis.

    ``hidden_features`` defaults to 8/3 of ``in_features`` rounded up to a multiple of
    ``multiple_of`` (Mamba's rule); an explicit value is rounded up the same way.

    Parameters
    ----------
    in_features : int
    hidden_features : int, optional
    out_features : int, optional
        Default ``in_features``.
    activation : str, callable or None, optional
        Gate activation by lrnnx's name (default ``"silu"``) or a callable on arrays.
    bias : bool, optional
        Biases of ``fc1`` and ``fc2`` (default False).
    multiple_of : int, optional
        Default 128.
    seed : int or numpy.random.Generator, optional
        Host RNG of the initialisation (torch's ``nn.Linear`` default).
    dtype, xp, device : optional

    Attributes
    ----------
    fc1 : Linear (in_features -> 2 hidden_features)
    fc2 : Linear (hidden_features -> out_features)

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import GatedMLP
    >>> mlp = GatedMLP(16, seed=0)
    >>> mlp.hidden_features, sorted(mlp.state_dict())
    (128, ['fc1.weight', 'fc2.weight'])
    >>> mlp(np.ones((2, 3, 16), dtype=np.float32)).shape
    (2, 3, 16)
    """

    def __init__(self, in_features, hidden_features=None, out_features=None, activation="silu",
                 bias=False, multiple_of=128, *, seed=None, dtype=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.in_features = check_count("in_features", in_features)
        self.out_features = (self.in_features if out_features is None
                             else check_count("out_features", out_features))
        self.multiple_of = check_count("multiple_of", multiple_of)
        hidden = (int(8 * self.in_features / 3) if hidden_features is None
                  else check_count("hidden_features", hidden_features))
        self.hidden_features = math.ceil(hidden / self.multiple_of) * self.multiple_of
        _check_bool("bias", bias)
        if callable(activation) and not isinstance(activation, str):
            self.activation = activation
        else:
            self.activation = Activation(activation, xp=self.xp, device=device)
        from ._common import host_rng

        rng = host_rng(seed)
        kw = dict(bias=bias, seed=rng, dtype=dtype, xp=self.xp, device=device)
        self.fc1 = Linear(self.in_features, 2 * self.hidden_features, **kw)
        self.fc2 = Linear(self.hidden_features, self.out_features, **kw)

    def forward(self, x):
        """``x`` (..., in_features) -> (..., out_features)."""
        x = check_input(self, "x", x, last_dim=self.in_features)
        lead = tuple(x.shape[:-1])
        xp = self.xp
        # 2-D products: NumPy's stacked matmul skips BLAS for transposed weights.
        h = self.fc1(xp.reshape(x, (-1, self.in_features)))
        n = self.hidden_features
        y = h[:, :n] * self.activation(h[:, n:])
        return xp.reshape(self.fc2(y), (*lead, self.out_features))
