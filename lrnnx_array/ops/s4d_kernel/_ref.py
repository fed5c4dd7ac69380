"""NumPy float64 oracle for the S4D kernel: discretise each mode, then plain powers.

k_l = 2 Re sum_n C_n B̄_n Ā_n^l and k_state_l = 2 Re sum_n C_n Ā_n^{l+1} s_n (the state is the one
before step 0), with Ā, B̄ from zoh or bilinear (spec §2). A loop over l, no exp(x l).
"""

from __future__ import annotations

import numpy as np


def discretize_ref(A, B, dt, disc):
    A = np.asarray(A, np.complex128)
    B = np.asarray(B, np.complex128)
    dt = np.asarray(dt, np.float64)
    dtA = dt * A
    if disc == "zoh":
        return np.exp(dtA), (np.exp(dtA) - 1.0) / A * B
    return (1 + dtA / 2) / (1 - dtA / 2), dt / (1 - dtA / 2) * B


def _disc2(A, B, dt, disc):
    H = np.shape(A)[0]
    return discretize_ref(A, np.reshape(B, np.shape(B)[-2:]), np.reshape(dt, (H, -1)), disc)


def s4d_kernel_ref(A, B, C, dt, L, *, disc="zoh", state=None):
    """A, B (H, N2), C (channels, H, N2), dt broadcast to (H, N2) -> (k, k_state)."""
    dA, dB = _disc2(A, B, dt, disc)
    C = np.asarray(C, np.complex128)
    k = np.zeros(C.shape[:-1] + (L,))
    p = np.ones_like(dA)
    ks = None
    if state is not None:
        s = np.asarray(state, np.complex128)
        ks = np.zeros((s.shape[0],) + C.shape[:-1] + (L,))
    for t in range(L):
        k[..., t] = 2 * np.real(np.sum(C * dB * p, axis=-1))
        p = p * dA
        if ks is not None:
            ks[..., t] = 2 * np.real(np.sum(C[None] * (p * s)[:, None], axis=-1))
    return k, ks


def s4d_recurrence_ref(u, A, B, C, dt, *, disc="zoh", state=None):
    """Step the modes through u (batch, H, L): y (batch, channels, H, L), last state."""
    dA, dB = _disc2(A, B, dt, disc)
    u = np.asarray(u, np.float64)
    C = np.asarray(C, np.complex128)
    x = np.zeros(u.shape[:2] + dA.shape[-1:], np.complex128)
    if state is not None:
        x = np.array(state, np.complex128)
    y = np.zeros((u.shape[0],) + C.shape[:-1] + (u.shape[-1],))
    for t in range(u.shape[-1]):
        x = dA * x + dB * u[..., t, None]
        y[..., t] = 2 * np.real(np.sum(C[None] * x[:, None], axis=-1))
    return y, x
