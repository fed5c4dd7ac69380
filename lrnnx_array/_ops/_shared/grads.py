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
