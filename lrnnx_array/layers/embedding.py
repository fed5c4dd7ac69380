"""``Embedding``: a lookup table with torch's key (``weight``) and default init N(0, 1)."""

from __future__ import annotations

import array_api_compat
import numpy as np

from ..models._base import Module
from ._common import check_count, host_rng, param_dtype


def check_ids(module, name, ids, num_embeddings):
    """``ids`` as an integer array of the module's namespace with entries in [0, num)."""
    owner = type(module).__name__
    if ids is None:
        raise TypeError(f"{owner}: {name} must be an integer array, got None")
    try:
        ns = array_api_compat.array_namespace(ids)
    except TypeError as exc:
        raise TypeError(f"{owner}: {name} must be an integer array, got "
                        f"{type(ids).__name__}") from exc
    xp = module.xp
    if ns.__name__.split(".")[-1] != xp.__name__.split(".")[-1]:
        raise TypeError(f"{owner}: {name} is a {ns.__name__} array, the module's parameters are "
                        f"{xp.__name__} arrays")
    if xp.isdtype(ids.dtype, "bool") or not xp.isdtype(ids.dtype, "integral"):
        raise TypeError(f"{owner}: {name} must have an integer dtype (token ids), got "
                        f"{ids.dtype}")
    if ids.size and (bool(xp.any(ids < 0)) or bool(xp.any(ids >= num_embeddings))):
        raise ValueError(f"{owner}: {name} entries must be in [0, {num_embeddings}), got "
                         f"min {int(xp.min(ids))}, max {int(xp.max(ids))}")
    return ids


class Embedding(Module):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by integer ids.

    Parameters
    ----------
    num_embeddings, embedding_dim : int
    padding_idx : int, optional
        Row initialised to zeros (torch's ``padding_idx``; gradients are the caller's concern).
    init_std : float, optional
        Standard deviation of the normal init (default 1.0, torch's).
    seed, dtype, xp, device : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import Embedding
    >>> emb = Embedding(10, 4, padding_idx=0, seed=0)
    >>> emb(np.array([[0, 3]])).shape, float(np.abs(emb(np.array([0]))).sum())
    ((1, 2, 4), 0.0)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, init_std=1.0, *,
                 seed=None, dtype=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.num_embeddings = check_count("num_embeddings", num_embeddings)
        self.embedding_dim = check_count("embedding_dim", embedding_dim)
        if padding_idx is not None:
            if isinstance(padding_idx, (bool, np.bool_)) or not isinstance(
                    padding_idx, (int, np.integer)):
                raise TypeError(f"padding_idx must be an int or None, got "
                                f"{type(padding_idx).__name__}")
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"padding_idx must be in [-{self.num_embeddings}, "
                                 f"{self.num_embeddings}), got {padding_idx}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        w = host_rng(seed).standard_normal((self.num_embeddings, self.embedding_dim)) * init_std
        if padding_idx is not None:
            w[padding_idx] = 0.0
        self.register_parameter("weight", self.asarray(w, dtype=param_dtype(self.xp, dtype)))

    def forward(self, ids):
        """``ids`` (...) integer -> (..., embedding_dim)."""
        ids = check_ids(self, "ids", ids, self.num_embeddings)
        xp = self.xp
        flat = xp.reshape(ids, (-1,))
        out = xp.take(self.weight, flat, axis=0)
        return xp.reshape(out, (*ids.shape, self.embedding_dim))
