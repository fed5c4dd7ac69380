"""Batch-parallel inference on Dask, and the one-thread cap of the ops' pool inside tasks."""

from __future__ import annotations

import uuid

import dask
import dask.array as da

from .._ops._shared import threads as _threads
from ._engine import one_thread

__all__ = ["map_batches", "cap_numpy_threads", "one_thread"]


def cap_numpy_threads(n: int = 1):
    """Context manager: op calls in this thread use at most ``n`` workers of the ops' pool.

    Every task of :mod:`lrnnx_array.dask` already runs under ``cap_numpy_threads(1)``: Dask runs
    one task per core (thread or process), so the ops' own NumPy thread pool inside each task
    would oversubscribe the cores. Use it around your own per-chunk code the same way.

    Parameters
    ----------
    n : int, default 1
        At most this many pool workers (1: the op runs inline in the calling thread).

    Returns
    -------
    context manager

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array import ops
    >>> from lrnnx_array.dask import cap_numpy_threads
    >>> with cap_numpy_threads(1):
    ...     h = ops.diag_scan(np.full((64, 8), 0.5), np.ones((64, 8)))
    >>> h.shape
    (64, 8)
    """
    return _threads.limit(n)


def _lib(xp) -> str:
    return getattr(xp, "__name__", str(xp)).split(".")[-1]


@one_thread
def _apply(model, x, args, kwargs):
    return model(x, *args, **kwargs)


def _field(out, i):
    return out[i]


def map_batches(model, x, *args, dtype=None, tail=None, **kwargs):
    """Run ``model(x, *args, **kwargs)`` on each batch chunk of a Dask array, lazily.

    ``x`` is split along batch (axis 0) only: its other axes, and those of Dask arrays among
    ``args`` whose first axis is the batch, are rechunked to one chunk. The model enters the
    graph once, as one key that every task depends on (a distributed cluster ships it once per
    worker, not once per task). Each task runs under ``cap_numpy_threads(1)``.

    Parameters
    ----------
    model : callable
        A model of :mod:`lrnnx_array.models` (or any callable) on the array library of ``x``'s
        chunks; a model on another library (``model.xp``) raises ``TypeError`` (move it first
        with ``model.to(xp)``).
    x : dask array, shape (batch, ...)
        The input, e.g. (batch, seqlen, d_model) for the sequence models.
    *args, **kwargs
        Passed to the model; Dask arrays among ``args`` with ``x``'s batch size are split with
        it, others are passed whole.
    dtype, tail : optional
        The result's dtype and shape after the batch axis. Without them they are read from one
        call of the model on a batch of 0 rows (no data is computed).

    Returns
    -------
    dask array (or tuple of them, if the model returns a tuple)
        Chunked along batch like ``x``, in ``x``'s array library.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from lrnnx_array.dask import map_batches
    >>> x = da.ones((6, 5, 2), chunks=(2, 5, 2))
    >>> y = map_batches(lambda v: 2 * v, x)
    >>> y.chunks[0], float(y.sum().compute())
    ((2, 2, 2), 120.0)
    """
    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a Dask array, got {type(x).__name__}")
    if x.ndim < 1:
        raise ValueError(f"x needs a batch axis (first), got shape {tuple(x.shape)}")
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model).__name__}")
    from array_api_compat import array_namespace

    in_xp = array_namespace(x._meta)
    model_xp = getattr(model, "xp", None)
    if model_xp is not None and _lib(model_xp) != _lib(in_xp):
        raise TypeError(f"model is on {_lib(model_xp)} but x's chunks are {_lib(in_xp)} arrays; "
                        f"move it first (model.to(xp))")
    batch = int(x.shape[0])
    bchunks = x.chunks[0]
    x = x.rechunk((bchunks,) + tuple((int(n),) for n in x.shape[1:]))
    split = []
    for i, a in enumerate(args):
        if isinstance(a, da.Array) and a.ndim >= 1 and int(a.shape[0]) == batch:
            split.append(a.rechunk((bchunks,) + tuple((int(n),) for n in a.shape[1:])))
        elif isinstance(a, da.Array):
            raise ValueError(f"args[{i}] is a Dask array of shape {tuple(a.shape)}: a split "
                             f"argument needs the batch size {batch} first")
        else:
            split.append(None)
    outs_like = _result_like(model, in_xp, x, args, kwargs, dtype, tail)
    model_key = dask.delayed(model, name=f"lrnnx-model-{uuid.uuid4().hex}", pure=False)
    xs = x.to_delayed(optimize_graph=False).reshape(-1)
    arg_blocks = [None if s is None else s.to_delayed(optimize_graph=False).reshape(-1)
                  for s in split]
    pieces = []
    for i, xb in enumerate(xs):
        call_args = tuple(a if b is None else b[i] for a, b in zip(args, arg_blocks))
        pieces.append(dask.delayed(_apply, pure=True)(model_key, xb, call_args, kwargs))
    results = []
    for j, like in enumerate(outs_like):
        blocks = []
        for i, p in enumerate(pieces):
            value = p if len(outs_like) == 1 and not like.is_tuple else dask.delayed(
                _field, pure=True)(p, j)
            blocks.append(da.from_delayed(value, (bchunks[i], *like.tail), dtype=like.dtype,
                                          meta=like.meta))
        results.append(da.concatenate(blocks, axis=0) if blocks else da.zeros(
            (0, *like.tail), dtype=like.dtype, meta=like.meta))
    return tuple(results) if outs_like[0].is_tuple else results[0]


class _Like:
    def __init__(self, dtype, tail, meta, is_tuple):
        self.dtype, self.tail, self.meta, self.is_tuple = dtype, tuple(tail), meta, is_tuple


def _result_like(model, xp, x, args, kwargs, dtype, tail):
    if dtype is not None and tail is not None:
        return [_Like(dtype, tail, xp.empty((0,) * (1 + len(tail)), dtype=dtype), False)]
    empty = xp.zeros((0, *x.shape[1:]), dtype=x.dtype)
    stand_args = tuple(xp.zeros((0, *a.shape[1:]), dtype=a.dtype) if isinstance(a, da.Array)
                       else a for a in args)
    try:
        out = model(empty, *stand_args, **kwargs)
    except Exception as exc:
        raise ValueError(
            "could not read the result's shape from a call on 0 rows "
            f"({type(exc).__name__}: {exc}); pass dtype= and tail= to map_batches") from exc
    is_tuple = isinstance(out, tuple)
    outs = out if is_tuple else (out,)
    likes = []
    for o in outs:
        likes.append(_Like(o.dtype, o.shape[1:], xp.empty((0,) * o.ndim, dtype=o.dtype),
                           is_tuple))
    return likes
