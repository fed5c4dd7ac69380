"""Array-API matrix power and power-weighted sum, both in O(log L) batched matmuls.

A^L: binary exponentiation (square, multiply in the set bits).
sum_i A^i v_i: pairwise halving. Pairing even and odd columns,
sum_i A^i v_i = sum_j (A^2)^j (v_{2j} + A v_{2j+1}), so each round halves the columns with one
batched matmul and squares the matrix; an odd column count is padded with a zero column.
"""

from __future__ import annotations


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
    lead = tuple(xp.broadcast_arrays(A[..., 0, 0], v[..., 0, 0])[0].shape)
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
