"""Array-API matrix power and power-weighted sum, both in O(log L) batched matmuls.

A^L: binary exponentiation (square, multiply in the set bits).
sum_i A^i v_i: pairwise halving. Pairing even and odd columns,
sum_i A^i v_i = sum_j (A^2)^j (v_{2j} + A v_{2j+1}), so each round halves the columns with one
batched matmul and squares the matrix; an odd column count is padded with a zero column.
"""

from __future__ import annotations

from .._shared.grads import sum_to
from .._shared.grouping import broadcast_shapes


def _eye_like(xp, A):
    N = A.shape[-1]
    return xp.broadcast_to(xp.eye(N, dtype=A.dtype), A.shape)


def matrix_power(xp, A, L: int):
    result = None
    base = A
    while L > 0:
        if L & 1:
            result = base if result is None else xp.matmul(result, base)
        L >>= 1
        if L:
            base = xp.matmul(base, base)
    return _eye_like(xp, A) if result is None else result


def power_sum(xp, A, v):
    """sum_i A^i v[..., :, i] for A (..., N, N), v (..., N, L') -> (..., N)."""
    n = v.shape[-1]
    lead = broadcast_shapes(tuple(A.shape[:-2]), tuple(v.shape[:-2]))
    N = A.shape[-1]
    if n == 0:
        return xp.zeros(lead + (N,), dtype=v.dtype)
    P = A
    while n > 1:
        if n % 2:
            v = xp.concat([v, xp.zeros(v.shape[:-1] + (1,), dtype=v.dtype)], axis=-1)
            n += 1
        v = v[..., 0::2] + xp.matmul(P, v[..., 1::2])
        n //= 2
        if n > 1:
            P = xp.matmul(P, P)
    return xp.broadcast_to(v[..., 0], lead + (N,))


# ---- VJP --------------------------------------------------------------------------------------
# Both parts only ever multiply by the squares B_j = A^(2^j), so the backward recomputes that
# chain once (the forward's own matmuls), accumulates the adjoint gB_j of every square from the
# two products, then walks the squaring chain back: B_{j+1} = B_j B_j gives
# gB_j += gB_{j+1} B_j^H + B_j^H gB_{j+1}. For C = X Y: dX = dC Y^H, dY = X^H dC (PyTorch's
# complex convention). O(log L + log L') matmuls; memory O(log L) matrices plus ~2x v.


def _h(xp, X):
    Xt = xp.matrix_transpose(X)
    return xp.conj(Xt) if xp.isdtype(X.dtype, "complex floating") else Xt


def _matrix_power_adjoint(xp, B, L, G, gB):
    """Add to gB[j] the adjoint of A^L = prod over the set bits j of B_j, given G = d(A^L)."""
    mults, res = [], None
    for j in range(L.bit_length()):
        if (L >> j) & 1:
            mults.append((j, res))
            res = B[j] if res is None else xp.matmul(res, B[j])
    for j, prev in reversed(mults):
        if prev is None:
            gB[j] = gB[j] + G
        else:
            gB[j] = gB[j] + xp.matmul(_h(xp, prev), G)
            G = xp.matmul(G, _h(xp, B[j]))


def _power_sum_adjoint(xp, B, v, g, gB):
    """Add the adjoint of power_sum(A, v) to gB, given g = ds (lead, N); returns dv at (lead, N, n).

    Replays the pairwise halving (v <- v_even + B_r v_odd, padding odd counts with a zero column),
    then runs the rounds backwards: d v_even = gv, d v_odd = B_r^H gv, gB_r += gv v_odd^H.
    """
    n = v.shape[-1]
    odds, pads = [], []
    r = 0
    while n > 1:
        pad = n % 2
        if pad:
            v = xp.concat([v, xp.zeros(v.shape[:-1] + (1,), dtype=v.dtype)], axis=-1)
            n += 1
        odd = v[..., 1::2]
        odds.append(odd)
        pads.append(pad)
        v = v[..., 0::2] + xp.matmul(B[r], odd)
        n //= 2
        r += 1
    gv = g[..., None]
    for r in range(len(odds) - 1, -1, -1):
        gB[r] = gB[r] + sum_to(xp, xp.matmul(gv, _h(xp, odds[r])), B[r].shape)
        g_odd = xp.matmul(_h(xp, B[r]), gv)
        g_even = xp.broadcast_to(gv, g_odd.shape)
        m = gv.shape[-1]
        gv = xp.reshape(xp.stack([g_even, g_odd], axis=-1), g_odd.shape[:-1] + (2 * m,))
        if pads[r]:
            gv = gv[..., :-1]
    return gv


def power_vjp(xp, L: int, A, v, gAL, gs):
    """(dA, dv) of (A^L, sum_i A^i v_i) given cotangents gAL (A's shape) and gs (lead, N).

    Everything is in one dtype; ``v``/``gs`` may be None, ``gAL`` may be None. dv is returned at
    the broadcast shape (the caller sums it down to v's shape).
    """
    n_sum = 0 if (v is None or gs is None) else max(0, (v.shape[-1] - 1).bit_length())
    n_pow = L.bit_length() if gAL is not None else 0
    n = max(n_sum, n_pow)
    B = [A]
    for _ in range(n - 1):
        B.append(xp.matmul(B[-1], B[-1]))
    gB = [xp.zeros_like(A) for _ in range(max(n, 1))]
    if n_pow:
        _matrix_power_adjoint(xp, B, L, gAL, gB)
    dv = None
    if v is not None and gs is not None:
        dv = _power_sum_adjoint(xp, B, v, gs, gB) if v.shape[-1] else xp.zeros_like(v)
    for j in range(n - 1, 0, -1):
        Bh = _h(xp, B[j - 1])
        gB[j - 1] = gB[j - 1] + xp.matmul(gB[j], Bh) + xp.matmul(Bh, gB[j])
    return gB[0], dv
