"""NumPy float64/complex128 oracle for power(L, A, v): plain products, one at a time."""

from __future__ import annotations

import numpy as np

from .._shared.grads import sum_to


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


def _H(X):
    return np.conj(np.swapaxes(X, -1, -2))


def power_vjp_ref(dout, L, A, v=None):
    """Explicit reverse loops (PyTorch complex convention; real inputs get real gradients).

    A^L: with P_{k+1} = P_k A from P_0 = I, the adjoint G_k of P_k runs G_k = G_{k+1} A^H and
    dA += P_k^H G_{k+1}. The sum in Horner form: h_n = 0, h_i = v_i + A h_{i+1}, s = h_0; its
    adjoint lam_0 = ds, lam_{i+1} = A^H lam_i gives dv_i = lam_i and dA += lam_i h_{i+1}^H.
    Returns (dA, dv) in float64/complex128 (dv None without v).
    """
    A0 = np.asarray(A)
    dAL, ds = (dout, None) if v is None else dout
    cplx = any(np.iscomplexobj(a) for a in (A0, v, dAL, ds) if a is not None)
    dt = np.complex128 if cplx else np.float64
    A = A0.astype(dt)
    N = A.shape[-1]
    dA = np.zeros(A.shape, dt)
    if dAL is not None and L > 0:
        P = [np.broadcast_to(np.eye(N, dtype=dt), A.shape).copy()]
        for _ in range(L - 1):
            P.append(P[-1] @ A)
        G = np.broadcast_to(np.asarray(dAL, dt), A.shape)
        for k in range(L - 1, -1, -1):
            dA = dA + _H(P[k]) @ G
            G = G @ _H(A)
    dv = None
    if v is not None:
        v0 = np.asarray(v)
        vv = v0.astype(dt)
        n = vv.shape[-1]
        lead = np.broadcast_shapes(A.shape[:-2], vv.shape[:-2])
        dvb = np.zeros(lead + vv.shape[-2:], dt)
        if ds is not None and n > 0:
            h = [np.zeros(lead + (N,), dt) for _ in range(n + 1)]
            for i in range(n - 1, -1, -1):
                h[i] = vv[..., :, i] + (A @ h[i + 1][..., None])[..., 0]
            lam = np.broadcast_to(np.asarray(ds, dt), lead + (N,)).copy()
            for i in range(n):
                dvb[..., :, i] = lam
                dA = dA + sum_to(np, lam[..., :, None] * np.conj(h[i + 1])[..., None, :], A.shape)
                lam = (_H(A) @ lam[..., None])[..., 0]
        dv = sum_to(np, dvb, vv.shape)
        dv = dv if np.iscomplexobj(v0) else dv.real
    return (dA if np.iscomplexobj(A0) else dA.real), dv



# ---- canonical functions (what SPEC.get("reference", ...) returns) ------------------------------
# NumPy-only (the dispatch refuses the reference elsewhere): plain np.asarray, no test kit.


def matrix_power(xp, A, L):
    return xp.asarray(power_ref(L, np.asarray(A)), dtype=A.dtype)


def power_sum(xp, A, v):
    return xp.asarray(power_ref(0, np.asarray(A), np.asarray(v))[1], dtype=v.dtype)


def power_vjp(xp, L, A, v, gAL, gs):
    A_ = np.asarray(A)
    dout = np.asarray(gAL) if v is None else (
        None if gAL is None else np.asarray(gAL), None if gs is None else np.asarray(gs))
    dA, dv = power_vjp_ref(dout, L, A_, None if v is None else np.asarray(v))
    dA = xp.asarray(dA, dtype=A.dtype)
    return dA, None if dv is None or gs is None else xp.asarray(dv, dtype=v.dtype)
