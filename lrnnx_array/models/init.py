"""HiPPO-LegS / DPLR initialisation (spec §4.9) used by the S5 tests and benchmarks.

Private here until ``lrnnx_array.models.init`` exists; then it moves there. NumPy only, host side.
"""

from __future__ import annotations

import numpy as np


def make_hippo(N):
    """LegS matrix: -(sqrt(2n+1) sqrt(2k+1)) below the diagonal, -(n+1) on it, 0 above."""
    p = np.sqrt(1 + 2 * np.arange(N))
    A = np.tril(p[:, None] * p[None, :]) - np.diag(np.arange(N))
    return -A


def make_nplr_hippo(N):
    """(A, P, B) with A + P P^T normal: P = sqrt(n + 1/2), B = sqrt(2n + 1)."""
    return make_hippo(N), np.sqrt(np.arange(N) + 0.5), np.sqrt(2 * np.arange(N) + 1.0)


def make_dplr_hippo(N):
    """(Lambda, V^H P, V^H B, V, B) with Lambda = mean(diag S) + i eig(-iS), S = A + P P^T.

    ``eigh`` sorts the imaginary parts ascending, so the first half is the negative-frequency
    half of the conjugate-symmetric spectrum.
    """
    A, P, B = make_nplr_hippo(N)
    S = A + P[:, None] * P[None, :]
    lam_re = np.mean(np.diag(S)) * np.ones(N)
    lam_im, V = np.linalg.eigh(S * -1j)
    Vh = V.conj().T
    return lam_re + 1j * lam_im, Vh @ P, Vh @ B, V, B


def make_s5_params(H, P, *, conj_sym=True, seed=42, dt_min=1e-3, dt_max=1e-1):
    """S5-LTV-style parameters: A (P,), B (P,H), C (H,P) complex128; dt (P,), D (H,) float64.

    With ``conj_sym`` the spectrum is built for 2P and its first P modes are kept
    (Vinv = V^H restricted, local_P = 2P), as lrnnx's S5 does.
    """
    rng = np.random.default_rng(seed)
    local_P = 2 * P if conj_sym else P
    lam, _, _, V, _ = make_dplr_hippo(local_P)
    if conj_sym:
        lam, V = lam[:P], V[:, :P]
        Vinv = V.conj().T
    else:
        Vinv = np.linalg.inv(V)
    B = Vinv @ (rng.standard_normal((local_P, H)) / np.sqrt(local_P))
    C = ((rng.standard_normal((H, local_P)) + 1j * rng.standard_normal((H, local_P)))
         / np.sqrt(local_P)) @ V
    dt = np.exp(rng.uniform(np.log(dt_min), np.log(dt_max), P))
    D = 0.1 * rng.standard_normal(H)
    return lam, B, C, dt, D
