"""Initialisers (lrnnx ``utils/init.py`` and the S4/S4D inits of ``ops/s4_utils``), host float64.

Everything here is NumPy on the host and draws only from ``numpy.random.default_rng(seed)`` (or a
Generator passed in): no global RNG state, unlike lrnnx's ``init_VinvB``/``init_CV``.

* HiPPO: :func:`transition` (legs, legt, lagt, fourier/fout), :func:`rank_correction`,
  :func:`nplr`, :func:`dplr` (S4D inits lin/inv/inv2/quad/rand/real/legs and the B inits),
  :func:`ssm`, :func:`combination` ("hippo", "diag", "all", "diag-*", "dplr-*"),
  :func:`init_ssm_dplr`, :func:`init_dt`, :func:`inv_transform`.
* lrnnx ``utils/init.py``: :func:`make_HiPPO`, :func:`make_NPLR_HiPPO`, :func:`make_DPLR_HiPPO`,
  :func:`init_log_steps`, :func:`init_VinvB`, :func:`init_CV`; and :func:`lru_ring_init`,
  :func:`inverse_softplus_dt` (Mamba-style dt bias), :func:`make_s5_params`.
"""

from __future__ import annotations

import math

import numpy as np

from ._hippo import (
    B_INITS,
    COMBINATIONS,
    DPLR_INITS,
    MEASURES,
    TRANSFORMS,
    combination,
    dplr,
    init_dt,
    init_ssm_dplr,
    inv_transform,
    nplr,
    rank_correction,
    ssm,
    transition,
)

__all__ = [
    "B_INITS", "COMBINATIONS", "DPLR_INITS", "MEASURES", "TRANSFORMS",
    "transition", "rank_correction", "nplr", "dplr", "ssm", "combination", "init_ssm_dplr",
    "init_dt", "inv_transform",
    "make_HiPPO", "make_NPLR_HiPPO", "make_DPLR_HiPPO", "init_log_steps", "init_VinvB",
    "init_CV", "lru_ring_init", "inverse_softplus_dt",
    "make_hippo", "make_nplr_hippo", "make_dplr_hippo", "make_s5_params",
]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


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


# lrnnx's names (utils/init.py)
make_HiPPO = make_hippo  # noqa: N816  (lrnnx names)
make_NPLR_HiPPO = make_nplr_hippo  # noqa: N816
make_DPLR_HiPPO = make_dplr_hippo  # noqa: N816


def init_log_steps(P, dt_min=1e-3, dt_max=1e-1, seed=None):
    """log dt ~ U[log dt_min, log dt_max], shape (P,)."""
    return _rng(seed).uniform(math.log(dt_min), math.log(dt_max), P)


def init_VinvB(Vinv, local_P, H, seed=None):
    """``Vinv @ (N(0,1) (local_P, H) / sqrt(local_P))`` as a (P, H, 2) real view."""
    B = np.asarray(Vinv) @ (_rng(seed).standard_normal((local_P, H)) / math.sqrt(local_P))
    return np.stack([B.real, B.imag], axis=-1)


def init_CV(V, local_P, H, seed=None):
    """``((N + iN) (H, local_P) / sqrt(local_P)) @ V`` as an (H, P, 2) real view."""
    rng = _rng(seed)
    C = (rng.standard_normal((H, local_P)) + 1j * rng.standard_normal((H, local_P)))
    C = (C / math.sqrt(local_P)) @ np.asarray(V)
    return np.stack([C.real, C.imag], axis=-1)


def lru_ring_init(N, r_min=0.0, r_max=1.0, max_phase=2 * math.pi, seed=None):
    """LRU eigenvalues uniform on the ring r_min <= |lambda| <= r_max, phase in [0, max_phase].

    Returns ``(nu_log, theta_log)`` with lambda = exp(-exp(nu_log) + i exp(theta_log)):
    |lambda|^2 ~ U[r_min^2, r_max^2], theta = max_phase U[0, 1).
    """
    rng = _rng(seed)
    u1, u2 = rng.random(N), rng.random(N)
    nu = -0.5 * np.log(u1 * (r_max**2 - r_min**2) + r_min**2)
    theta = max_phase * u2
    with np.errstate(divide="ignore"):
        return np.log(nu), np.log(theta)


def inverse_softplus_dt(n, dt_min=1e-3, dt_max=1e-1, dt_init_floor=1e-4, seed=None):
    """Bias b with softplus(b) = dt, dt log-uniform in [dt_min, dt_max] clamped at the floor."""
    dt = np.exp(_rng(seed).uniform(math.log(dt_min), math.log(dt_max), n))
    dt = np.maximum(dt, dt_init_floor)
    return dt + np.log(-np.expm1(-dt))


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
