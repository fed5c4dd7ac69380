"""lrnnx's sequence classifier / regressor: input projection or token embedding, post-norm
residual blocks around any LRNN, optional intermediate pooling, final pooling and a head."""

from __future__ import annotations

import inspect

from ..layers import Dropout, LayerNorm, Linear
from ..layers._common import check_count, host_rng
from ..models._base import Module
from ._common import ModuleList, mixer_class, takes
from .embedding import TokenEmbedding
from .pooling import SequencePooling


def _build_lrnn(cls, params, d_model, d_state, seed, xp, device):
    if isinstance(cls, str):
        cls = mixer_class(cls)
    if not callable(cls):
        raise TypeError(f"lrnn_cls must be a model class or name, got {type(cls).__name__}")
    kw = dict(params)
    # lrnnx forwards neither d_model nor d_state: its lrnn_params must hold them. They are
    # filled in here when absent.
    if "d_model" not in kw and takes(cls, "d_model"):
        kw["d_model"] = d_model
    if "d_state" not in kw and takes(cls, "d_state"):
        kw["d_state"] = d_state
    for k, v in (("seed", seed), ("xp", xp), ("device", device)):
        if k not in kw and (takes(cls, k) or _var_kw(cls)):
            kw[k] = v
    try:
        return cls(**kw)
    except TypeError as exc:
        raise TypeError(f"could not build {getattr(cls, '__name__', cls)} from lrnn_params "
                        f"{params}: {exc}") from exc


def _var_kw(cls):
    try:
        return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover
        return False


class ClassifierBlock(Module):
    """``x = LayerNorm(x + Dropout(lrnn(x)))``, then optional pooling; the final block pools
    to one vector and applies ``output_proj``.

    Parameters
    ----------
    d_model, d_state : int
    lrnn_cls : class or str
    num_classes, output_dim : int, optional
        Head width: ``num_classes`` if > 0, else ``output_dim`` (final block only).
    pooling : {"last", "mean", "max"}, optional
    dropout : float, optional
    intermediate_pooling : {"none", "stride", "mean", "max"}, optional
    pooling_factor : int, optional
    is_final : bool, optional
    seed, xp, device : optional
    **lrnn_params
        Constructor arguments of the LRNN.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.architectures import ClassifierBlock
    >>> blk = ClassifierBlock(8, 4, "LRU", num_classes=3, is_final=True, seed=0).eval()
    >>> blk(np.zeros((2, 5, 8), dtype=np.float32)).shape
    (2, 3)
    """

    def __init__(self, d_model, d_state, lrnn_cls, num_classes=0, output_dim=1, pooling="last",
                 dropout=0.1, intermediate_pooling="none", pooling_factor=2, is_final=False, *,
                 seed=None, xp=None, device=None, **lrnn_params):
        super().__init__(xp=xp, device=device)
        rng = host_rng(seed)
        self.d_model = check_count("d_model", d_model)
        self.lrnn = _build_lrnn(lrnn_cls, lrnn_params, self.d_model, d_state,
                                int(rng.integers(2**31)), self.xp, device)
        self.norm = LayerNorm(self.d_model, xp=self.xp, device=device)
        self.dropout = Dropout(dropout, seed=rng, xp=self.xp, device=device)
        self.intermediate_pooling = intermediate_pooling
        self.is_final = bool(is_final)
        if intermediate_pooling != "none":
            self.pooler = SequencePooling(intermediate_pooling, check_count(
                "pooling_factor", pooling_factor, 2), xp=self.xp, device=device)
        else:
            object.__setattr__(self, "pooler", None)
        if self.is_final:
            self.final_pooler = SequencePooling(pooling, xp=self.xp, device=device)
            width = num_classes if num_classes > 0 else check_count("output_dim", output_dim)
            self.output_proj = Linear(self.d_model, width, seed=rng, xp=self.xp, device=device)
        sig = inspect.signature(self.lrnn.forward).parameters
        self._lrnn_kw = {k for k in ("integration_timesteps", "lengths") if k in sig}

    def forward(self, x, integration_timesteps=None, lengths=None):
        kw = {}
        if integration_timesteps is not None and "integration_timesteps" in self._lrnn_kw:
            kw["integration_timesteps"] = integration_timesteps
        if lengths is not None and "lengths" in self._lrnn_kw:
            kw["lengths"] = lengths
        y = self.lrnn(x, **kw)
        if isinstance(y, tuple):  # S4/S4D
            y = y[0]
        x = self.norm(x + self.dropout(y))
        if self.pooler is not None:
            x, integration_timesteps, lengths = self.pooler(x, lengths, integration_timesteps)
        if not self.is_final:
            return x, integration_timesteps, lengths
        pooled, _, _ = self.final_pooler(x, lengths, integration_timesteps)
        return self.output_proj(pooled)


def _per_layer(name, value, n, kind):
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries, expected n_layers = {n}")
        return list(value)
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__} or a list of them, got "
                        f"{type(value).__name__}")
    return [value] * n


class Classifier(Module):
    """Sequence classifier (``num_classes > 0``) or regressor (lrnnx ``Classifier``).

    Parameters
    ----------
    input_dim : int
        Features of a continuous input (ignored with ``vocab_size``).
    num_classes, output_dim, d_model, d_state, n_layers : int, optional
    lrnn_cls : class, str or list, optional
        Default "LRU"; any name of :func:`mixer_registry` (lrnnx knows LRU, S5, Centaurus).
    pooling : {"last", "mean", "max"}, optional
    dropout : float, optional
    intermediate_pooling : str or list, optional
    pooling_factor : int or list, optional
    vocab_size, embedding_dim, max_position_embeddings, padding_idx : optional
        Token input through :class:`TokenEmbedding` (projected to d_model if needed).
    lrnn_params : dict, optional
        Extra constructor arguments of every LRNN (d_model and d_state are filled in).
    seed, xp, device : optional

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.architectures import Classifier
    >>> clf = Classifier(3, num_classes=4, d_model=8, d_state=4, n_layers=2, seed=0).eval()
    >>> clf(np.zeros((2, 6, 3), dtype=np.float32), lengths=np.array([6, 3])).shape
    (2, 4)
    """

    def __init__(self, input_dim, num_classes=0, output_dim=1, d_model=128, d_state=64,
                 n_layers=4, lrnn_cls="LRU", pooling="last", dropout=0.1,
                 intermediate_pooling="none", pooling_factor=2, vocab_size=None,
                 embedding_dim=None, max_position_embeddings=None, padding_idx=0,
                 lrnn_params=None, *, seed=None, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        rng = host_rng(seed)
        self.d_model = D = check_count("d_model", d_model)
        n = check_count("n_layers", n_layers)
        self.pooling = pooling
        kw = dict(xp=self.xp, device=device)
        self.has_embedding = vocab_size is not None
        if self.has_embedding:
            emb = D if embedding_dim is None else check_count("embedding_dim", embedding_dim)
            self.embedding = TokenEmbedding(vocab_size, emb, padding_idx,
                                            max_position_embeddings, False, dropout, seed=rng,
                                            **kw)
            if emb != D:
                self.embed_proj = Linear(emb, D, seed=rng, **kw)
            else:
                object.__setattr__(self, "embed_proj", None)
        else:
            self.input_proj = Linear(check_count("input_dim", input_dim), D, seed=rng, **kw)
        classes = lrnn_cls if isinstance(lrnn_cls, list) else [lrnn_cls] * n
        if len(classes) != n:
            raise ValueError(f"lrnn_cls list length ({len(classes)}) must match n_layers ({n})")
        pools = _per_layer("intermediate_pooling", intermediate_pooling, n, str)
        factors = _per_layer("pooling_factor", pooling_factor, n, int)
        params = dict(lrnn_params or {})
        # a d_state / d_model in lrnn_params is the LRNN's (the blocks take them by name too)
        d_state = params.pop("d_state", d_state)
        if params.pop("d_model", D) != D:
            raise ValueError("lrnn_params['d_model'] must equal d_model (the residual width)")
        blocks = [ClassifierBlock(D, d_state, classes[i], 0, 0, pooling, dropout, pools[i],
                                  factors[i], False, seed=int(rng.integers(2**31)), **kw,
                                  **params) for i in range(n - 1)]
        self.blocks = ModuleList(blocks, **kw)
        self.final_block = ClassifierBlock(D, d_state, classes[-1], num_classes, output_dim,
                                           pooling, dropout, pools[-1], factors[-1], True,
                                           seed=int(rng.integers(2**31)), **kw, **params)

    def forward(self, x, lengths=None, integration_timesteps=None):
        """``x`` (B, L, input_dim) or token ids (B, L) -> (B, num_classes or output_dim)."""
        if self.has_embedding:
            if x.ndim == 2:
                x = self.embedding(x)
            if self.embed_proj is not None:
                x = self.embed_proj(x)
        else:
            x = self.input_proj(x)
        for blk in self.blocks:
            x, integration_timesteps, lengths = blk(x, integration_timesteps, lengths)
        return self.final_block(x, integration_timesteps, lengths)
