"""NumPy float64 oracle for the S4 DPLR kernel: the dense discretised system and plain powers.

A_full = diag(Λ, Λ̄) - P_f P_f^H with P_f = [P, P̄] (conjugate-pair expansion of the N/2 stored
modes), bilinear Ā = (2/Δ - A)^{-1}(2/Δ + A), B̄ = (2/Δ - A)^{-1} 2B. The kernel is

    k_l = Re( C̃_f (I - Ā'^{L_d})^{-1} Ā'^l B̄' ),   C̃ = C (I - Ā^{l_kernel})

with Ā', B̄' at Δ·rate and L_d the discrete length; at rate 1 and L_d = l_kernel this is the
plain C Ā^l B̄. Matrix powers are a loop of products (no FFT, no Cauchy, no Woodbury).
"""

from __future__ import annotations

import numpy as np

from ._lengths import kernel_lengths


def expand(x):
    x = np.asarray(x, np.complex128)
    return np.concatenate([x, np.conj(x)], axis=-1)


def full_matrix_ref(A, P):
    """(H, N, N) continuous A_full = diag(Λ_f) - P_f P_f^H."""
    Lf = expand(A)
    M = np.stack([np.diag(row) for row in Lf])
    if P is not None and np.shape(P)[0]:
        Pf = expand(P)  # (R, H, N)
        M = M - np.einsum("rhm,rhn->hmn", Pf, np.conj(Pf))
    return M


def dplr_dense_ref(A, P, B, dt):
    """Bilinear discretisation of the full system: dA (H, N, N), dB (H, N)."""
    Af = full_matrix_ref(A, P)
    H, N, _ = Af.shape
    dt = np.reshape(np.asarray(dt, np.float64), (H,))
    Bf = expand(np.reshape(B, (H, -1)))
    dA = np.empty_like(Af)
    dB = np.empty((H, N), np.complex128)
    for h in range(H):
        M = 2 / dt[h] * np.eye(N) - Af[h]
        dA[h] = np.linalg.solve(M, 2 / dt[h] * np.eye(N) + Af[h])
        dB[h] = np.linalg.solve(M, 2 * Bf[h])
    return dA, dB


def mpow(M, n):
    out = np.broadcast_to(np.eye(M.shape[-1]), M.shape).astype(np.complex128)
    for _ in range(n):
        out = out @ M
    return out


def c_tilde_ref(A, C, P, dt, L):
    dA, _ = dplr_dense_ref(A, P, np.zeros(np.shape(A), complex), dt)
    Cf = expand(C)
    N2 = np.shape(A)[-1]
    return (Cf - np.einsum("chm,hmn->chn", Cf, mpow(dA, L)))[..., :N2]


def dplr_kernel_ref(A, B, C, P, dt, L, *, rate=1.0, state=None, C_is_tilde=False, l_kernel=None):
    """(k (channels, H, L), k_state (batch, channels, H, L) or None), by dense powers."""
    H, N2 = np.shape(A)
    dt = np.reshape(np.asarray(dt, np.float64), (H,))
    lk, Ld = kernel_lengths(L, rate, l_kernel, C_is_tilde)
    dA0, _ = dplr_dense_ref(A, P, B, dt)
    if C_is_tilde:
        Ct, l0 = expand(C), l_kernel
        while l0 < lk:
            Ct = Ct + np.einsum("chm,hmn->chn", Ct, mpow(dA0, l0))
            l0 *= 2
    else:
        Cf = expand(C)
        Ct = Cf - np.einsum("chm,hmn->chn", Cf, mpow(dA0, lk))
    dA, dB = dplr_dense_ref(A, P, B, dt * rate)
    N = 2 * N2
    Ct = np.einsum("chm,hmn->chn", Ct, np.linalg.inv(np.eye(N) - mpow(dA, Ld)))
    k = np.zeros(Ct.shape[:-1] + (L,))
    p = np.broadcast_to(np.eye(N), dA.shape).astype(np.complex128)
    ks = None
    if state is not None:
        s = np.asarray(state, np.complex128)
        s = expand(s) if s.shape[-1] == N2 else s
        ks = np.zeros((s.shape[0],) + k.shape)
    for t in range(L):
        k[..., t] = np.real(np.einsum("chm,hmn,hn->ch", Ct, p, dB))
        p = p @ dA
        if ks is not None:
            ks[..., t] = np.real(np.einsum("chm,hmn,bhn->bch", Ct, p, s))
    return k, ks


def dplr_recurrence_ref(u, A, B, C, P, dt, *, state=None):
    """Step the dense system through u (batch, H, L): y (batch, channels, H, L), last state."""
    dA, dB = dplr_dense_ref(A, P, B, dt)
    Cf = expand(C)
    u = np.asarray(u, np.float64)
    N2 = np.shape(A)[-1]
    x = np.zeros(u.shape[:2] + (2 * N2,), np.complex128)
    if state is not None:
        s = np.asarray(state, np.complex128)
        x = expand(s) if s.shape[-1] == N2 else s.copy()
    y = np.zeros((u.shape[0], Cf.shape[0], u.shape[1], u.shape[2]))
    for t in range(u.shape[-1]):
        x = np.einsum("hmn,bhn->bhm", dA, x) + dB * u[..., t, None]
        y[..., t] = np.real(np.einsum("chn,bhn->bch", Cf, x))
    return y, x
