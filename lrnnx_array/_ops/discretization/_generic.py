"""Array-API discretizations: the numerics layer's formulas, broadcast to fresh full arrays.

Canonical signatures (the same in ``_ref``): ``forward(xp, method, A, dt, tau, *, shape,
dtype) -> (A_bar, gamma_bar)`` and ``backward(xp, method, A, dt, tau, dA_bar, dgamma_bar, *,
shape, dtype) -> (dA, ddelta, dtau)`` with the inputs' shapes. ``A`` arrives at ``dtype``, the
steps at its real dtype, the cotangents at ``dtype`` or its complex partner; ``tau`` (or None)
only enters ``async`` and otherwise gets a zero gradient.
"""

from __future__ import annotations

from ..._backend import device
from .._shared.grads import grad_dtype, sum_to
from .._shared.numerics import forward as _formulas
from .._shared.numerics import vjp_full


def _full(xp, v, shape, dtype, inputs, dev):
    """``v`` as a fresh array of ``shape`` and ``dtype`` (never a view of an input)."""
    if isinstance(v, float):
        return xp.full(shape, v, dtype=dtype, device=dev)
    fresh = v.dtype != dtype
    v = v if not fresh else xp.astype(v, dtype)
    if tuple(v.shape) != tuple(shape):
        return xp.asarray(xp.broadcast_to(v, shape), copy=True)
    if not fresh and any(v is x for x in inputs):
        v = xp.asarray(v, copy=True)
    return v


def forward(xp, method, A, dt, tau, *, shape, dtype):
    dev = device(A)
    return tuple(_full(xp, v, shape, dtype, (A, dt), dev)
                 for v in _formulas(xp, method, A, dt, tau))


def backward(xp, method, A, dt, tau, dAbar, dgbar, *, shape, dtype):
    dev = device(A)
    full = vjp_full(xp, method, A, dt, tau, dAbar, dgbar)
    out = []
    for g, x in zip(full, (A, dt, tau)):
        if x is None:
            out.append(None)
            continue
        gdt = grad_dtype(xp, x.dtype, dtype)
        if g is None:  # a zero partial (or tau outside async)
            out.append(xp.zeros(tuple(x.shape), dtype=gdt, device=dev))
            continue
        g = sum_to(xp, xp.broadcast_to(g, shape) if tuple(g.shape) != tuple(shape) else g,
                   tuple(x.shape))
        if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(gdt, "complex floating"):
            g = xp.real(g)
        out.append(xp.astype(g, gdt))  # always fresh (g may still be a broadcast view)
    return tuple(out)
