"""``Dropout``: inverted dropout, active only in training mode, from a seeded host RNG."""

from __future__ import annotations

from ..models._base import Module
from ._common import check_input, check_probability, host_rng


class Dropout(Module):
    """Zero each entry with probability ``p`` and scale the rest by ``1/(1-p)`` while training.

    In eval mode (``.eval()``) and for ``p == 0`` the input is returned unchanged. The mask comes
    from a NumPy Generator seeded once at construction (no global RNG state), drawn on the host
    and moved to the module's device.

    Parameters
    ----------
    p : float, optional
        Drop probability in [0, 1] (default 0.5).
    tie_axis : int or None, optional
        Share one mask along this axis (lrnnx's ``tie_dropout`` / ``DropoutNd(tie=True)``, which
        shares the mask over the sequence axis). None (default): independent entries.
    seed : int or numpy.random.Generator, optional
    xp, device : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import Dropout
    >>> d = Dropout(0.5, seed=0)
    >>> x = np.ones((4, 8), dtype=np.float32)
    >>> bool(np.all(d.eval()(x) == x))
    True
    >>> sorted(set(np.unique(d.train()(x)).tolist()))
    [0.0, 2.0]
    """

    def __init__(self, p: float = 0.5, tie_axis=None, *, seed=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.p = check_probability("p", p)
        if tie_axis is not None and (isinstance(tie_axis, bool) or not isinstance(tie_axis, int)):
            raise TypeError(f"tie_axis must be an int or None, got {type(tie_axis).__name__}")
        self.tie_axis = tie_axis
        self._rng = host_rng(seed)

    def forward(self, x):
        x = check_input(self, "x", x, min_ndim=0)
        if not self.training or self.p == 0.0:
            return x
        xp = self.xp
        if self.p == 1.0:
            return xp.zeros_like(x)
        shape = list(x.shape)
        if self.tie_axis is not None:
            if not -x.ndim <= self.tie_axis < x.ndim:
                raise ValueError(f"tie_axis {self.tie_axis} is out of range for x of shape "
                                 f"{tuple(x.shape)}")
            shape[self.tie_axis] = 1
        keep = self._rng.random(tuple(shape)) >= self.p
        mask = self.asarray(keep.astype("float64") / (1.0 - self.p), dtype=x.dtype)
        return x * mask
