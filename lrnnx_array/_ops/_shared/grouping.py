"""Group broadcast batch axes by the array that owns the expensive per-row matrix.

The Cauchy matrix 1/(z - w) and the Vandermonde matrix e^{x l} depend only on ``w`` / ``x``.
When the coefficients ``v`` carry extra batch axes (S4: several (B, C) rows share one ``w`` per
channel), the op is a batched matmul of (Rw, M, N) coefficients with (Rw, N, L) matrices built
once per ``w`` row. :class:`Grouping` permutes the broadcast batch axes into (axes where ``w``
varies, axes where only the coefficients vary) and back.
"""

from __future__ import annotations


def broadcast_shapes(*shapes):
    """Broadcast shapes (tuples); raises ValueError naming nothing (callers wrap it)."""
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(nd):
        sizes = {s[len(s) - nd + i] for s in shapes if len(s) - nd + i >= 0} - {1}
        if len(sizes) > 1:
            raise ValueError("shapes do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class Grouping:
    """Axis bookkeeping for batch shape ``bshape`` whose shared array has batch shape ``wshape``."""

    def __init__(self, bshape, wshape):
        self.bshape = tuple(bshape)
        nd = len(self.bshape)
        wb = (1,) * (nd - len(wshape)) + tuple(wshape)
        self.w_axes = [i for i in range(nd) if wb[i] != 1 or self.bshape[i] == 1]
        self.m_axes = [i for i in range(nd) if i not in self.w_axes]
        self.Rw = 1
        for i in self.w_axes:
            self.Rw *= self.bshape[i]
        self.M = 1
        for i in self.m_axes:
            self.M *= self.bshape[i]
        self.perm = self.w_axes + self.m_axes
        self.inv = [self.perm.index(i) for i in range(nd)]
        # Batch shape of the shared array once broadcast (1 on coefficient-only axes).
        self.wfull = tuple(self.bshape[i] if i in self.w_axes else 1 for i in range(nd))

    def rows(self, xp, a, last):
        """Coefficient-like ``a`` (broadcastable to bshape + (last,)) -> (Rw, M, last)."""
        nd = len(self.bshape)
        a = xp.broadcast_to(a, self.bshape + (last,))
        a = xp.permute_dims(a, tuple(self.perm) + (nd,))
        return xp.reshape(a, (self.Rw, self.M, last))

    def shared(self, xp, w, last):
        """Shared ``w`` (broadcastable to wfull + (last,)) -> (Rw, last)."""
        w = xp.broadcast_to(w, self.wfull + (last,))
        return xp.reshape(w, (self.Rw, last))

    def unrows(self, xp, a):
        """(Rw, M, last) -> bshape + (last,)."""
        nd = len(self.bshape)
        last = a.shape[-1]
        a = xp.reshape(a, tuple(self.bshape[i] for i in self.perm) + (last,))
        return xp.permute_dims(a, tuple(self.inv) + (nd,))

    def unshared(self, xp, a):
        """(Rw, last) -> wfull + (last,)."""
        return xp.reshape(a, self.wfull + (a.shape[-1],))


def reduce_to(xp, g, shape, real: bool):
    """Sum a broadcast gradient down to ``shape``; real part when the input was real."""
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    if lead:
        g = xp.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    if real and xp.isdtype(g.dtype, "complex floating"):
        g = xp.real(g)
    return g


def blocks(n: int, size: int):
    """(start, stop) pairs covering range(n) in steps of ``size``."""
    size = max(1, int(size))
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def bmm(xp, a, b):
    """Batched matmul over the leading axis of 3-D ``a`` and ``b``.

    NumPy's stacked matmul does not call BLAS for complex operands (measured 3-5x slower than a
    loop of 2-D products at (4, 1, 64) @ (4, 64, 4096) complex64), so on NumPy the batch is a
    Python loop of 2-D matmuls; other libraries (CuPy: cuBLAS batched) get one call.
    """
    from ..._backend import is_numpy

    if not is_numpy(xp):
        return xp.matmul(a, b)
    if a.shape[1] == 1:
        # A single-row product also misses BLAS (8 ms vs 0.2 ms for (1, 64) @ (64, 4096)
        # complex64): pad a zero row, which is nearly free, and drop it again.
        a = xp.concat([a, xp.zeros_like(a)], axis=1)
        return bmm(xp, a, b)[:, :1, :]
    return xp.stack([xp.matmul(a[i, ...], b[i, ...]) for i in range(a.shape[0])], axis=0)
