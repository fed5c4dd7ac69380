"""NumPy float64/complex128 oracle for power(L, A, v): plain products, one at a time."""

from __future__ import annotations

import numpy as np


def power_ref(L, A, v=None):
    """A^L by L multiplications; with v, also sum_i A^i v[..., :, i] by a loop over i."""
    A = np.asarray(A)
    dt = np.complex128 if np.iscomplexobj(A) or np.iscomplexobj(v) else np.float64
    A = A.astype(dt)
    N = A.shape[-1]
    P = np.broadcast_to(np.eye(N, dtype=dt), A.shape).copy()
    for _ in range(L):
        P = P @ A
    if v is None:
        return P
    v = np.asarray(v, dtype=dt)
    lead = np.broadcast_shapes(A.shape[:-2], v.shape[:-2])
    acc = np.zeros(lead + (N,), dt)
    Ai = np.broadcast_to(np.eye(N, dtype=dt), A.shape).copy()
    for i in range(v.shape[-1]):
        acc = acc + (Ai @ v[..., :, i : i + 1])[..., 0]
        Ai = Ai @ A
    return P, acc
