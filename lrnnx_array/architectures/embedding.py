"""``TokenEmbedding`` (token lookup, optional learned positions, dropout) and
``PositionEmbedding``, with lrnnx's keys."""

from __future__ import annotations

import numpy as np

from ..layers import Dropout, Embedding
from ..layers._common import check_count, host_rng
from ..layers.mlp import _check_bool
from ..models._base import Module
from ._common import check_ids


class PositionEmbedding(Module):
    """Learned position vectors: ``position_embedding.weight`` (max_positions, dim).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.architectures import PositionEmbedding
    >>> PositionEmbedding(16, 4, seed=0)(np.arange(3)).shape
    (3, 4)
    """

    def __init__(self, max_position_embeddings, embedding_dim, *, seed=None, dtype=None,
                 xp=None, device=None):
        super().__init__(xp=xp, device=device)
        self.position_embedding = Embedding(max_position_embeddings, embedding_dim, seed=seed,
                                            dtype=dtype, xp=self.xp, device=device)

    def forward(self, positions):
        return self.position_embedding(positions)


class TokenEmbedding(Module):
    """Token embedding (lrnnx ``architectures.embedding.TokenEmbedding``).

    Parameters
    ----------
    vocab_size, embedding_dim : int
    padding_idx : int, optional
    max_position_embeddings : int, optional
        Needed with ``use_position``.
    use_position : bool, optional
        Add learned position embeddings (default False).
    dropout : float, optional
        Dropout on the result while training (default 0.1).
    seed, dtype, xp, device : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.architectures import TokenEmbedding
    >>> emb = TokenEmbedding(10, 4, padding_idx=0, seed=0).eval()
    >>> emb(np.array([[0, 5, 2]])).shape
    (1, 3, 4)
    """

    def __init__(self, vocab_size, embedding_dim, padding_idx=None, max_position_embeddings=None,
                 use_position=False, dropout=0.1, *, seed=None, dtype=None, xp=None,
                 device=None):
        super().__init__(xp=xp, device=device)
        rng = host_rng(seed)
        self.embedding_dim = check_count("embedding_dim", embedding_dim)
        kw = dict(dtype=dtype, xp=self.xp, device=device)
        self.token_embedding = Embedding(vocab_size, embedding_dim, padding_idx, seed=rng, **kw)
        self.use_position = _check_bool("use_position", use_position)
        if self.use_position:
            if max_position_embeddings is None:
                raise ValueError("max_position_embeddings must be set when use_position=True")
            self.position_embedding = PositionEmbedding(max_position_embeddings, embedding_dim,
                                                        seed=rng, **kw)
        else:
            object.__setattr__(self, "position_embedding", None)
        self.dropout = Dropout(dropout, seed=rng, xp=self.xp, device=device)

    def forward(self, token_ids):
        """ids (B, L) -> (B, L, embedding_dim)."""
        ids = check_ids(type(self).__name__, "token_ids", token_ids, (2,))
        e = self.token_embedding(ids)
        if self.position_embedding is not None:
            L = ids.shape[1]
            n = self.position_embedding.position_embedding.num_embeddings
            if L > n:
                raise ValueError(f"TokenEmbedding: sequence length {L} exceeds "
                                 f"max_position_embeddings {n}")
            pos = self.asarray(np.arange(L))
            e = e + self.position_embedding(pos)[None, :, :]
        return self.dropout(e)
