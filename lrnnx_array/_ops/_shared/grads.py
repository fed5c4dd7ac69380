"""Helpers shared by several op families (array-API; NumPy works as an ``xp`` too)."""

from __future__ import annotations


def sum_to(xp, g, shape):
    """Sum a gradient computed at the broadcast shape back to an input's ``shape``."""
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    if lead > 0:
        g = xp.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    return g


def grad_dtype(xp, like_dtype, compute_dtype):
    """A gradient's dtype: the input's kind (real/complex) at the computation's precision."""
    prec64 = compute_dtype in (xp.float64, xp.complex128)
    if xp.isdtype(like_dtype, "complex floating"):
        return xp.complex128 if prec64 else xp.complex64
    return xp.float64 if prec64 else xp.float32


def grad_like(xp, g, like):
    """``g`` (computed at the broadcast shape) summed to ``like``'s shape, in ``like``'s kind.

    A real input gets the real part (PyTorch's convention for real leaves of complex graphs).
    ``None`` stays ``None`` (no input, no gradient).
    """
    if g is None or like is None:
        return None
    g = sum_to(xp, g, like.shape)
    if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(like.dtype, "complex floating"):
        g = xp.real(g)
    want = grad_dtype(xp, like.dtype, g.dtype)
    return g if g.dtype == want else xp.astype(g, want)
