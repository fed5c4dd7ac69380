"""Routing of the public ops' calls that hold torch tensors or Dask arrays (part of the dispatch).

A public op called with a torch tensor runs through lrnnx_array.torch (an autograd Function per
differentiable op, zero-copy NumPy/CuPy views), one called with a Dask array through
lrnnx_array.dask. `lrnnx_array.ops` wraps its functions with `route_torch` once at import
(through ``lrnnx_array._dispatch``, which re-exports these names); without torch or Dask imported
the wrapper costs two dict lookups.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_NOT_TENSORS = frozenset({np.ndarray, str, bool, int, float, type(None)})  # isinstance on
# torch.Tensor goes through its metaclass (~0.4 us): skip the common types first


def _holds_tensor(tensor_type, args, kwargs) -> bool:
    for v in (*args, *kwargs.values()):
        if type(v) in _NOT_TENSORS:
            continue
        if isinstance(v, tensor_type):
            return True
        if isinstance(v, tuple) and any(isinstance(e, tensor_type) for e in v):
            return True  # step set-ups (DenseStep, S4DStep...) hold arrays
    return False


def route_torch(fn: Callable, name: str | None = None) -> Callable:
    """``fn`` (public name ``name``) sending calls that hold a torch tensor to the bridge.

    The wrapper's ``__wrapped__`` is ``fn``; signature and docstring are ``fn``'s.
    """
    import functools
    import sys

    name = name or fn.__name__

    @functools.wraps(fn)
    def routed(*args, **kwargs):
        torch = sys.modules.get("torch")
        if torch is not None and _holds_tensor(torch.Tensor, args, kwargs):
            from .torch._functions import call

            return call(name, args, kwargs)
        # Dask arrays (issue 12): to lrnnx_array.dask, never into _generic (dask imported only).
        dask_array = sys.modules.get("dask.array")
        if dask_array is not None and _holds_tensor(dask_array.Array, args, kwargs):
            from .dask import route

            return route(name, args, kwargs)
        return fn(*args, **kwargs)

    return routed


def route_torch_in(namespace: dict, names) -> None:
    """Wrap the functions ``names`` of module dict ``namespace`` with :func:`route_torch`."""
    for n in names:
        obj = namespace[n]
        if callable(obj) and not isinstance(obj, type):
            namespace[n] = route_torch(obj, n)
