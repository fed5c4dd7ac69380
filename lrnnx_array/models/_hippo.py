"""HiPPO transitions, NPLR/DPLR forms and the S4/S4D initialisers (spec §4.1), host float64.

Written from the HiPPO / S4 / S4D papers' formulas as lrnnx uses them (its ``ops/s4_utils``):
``transition`` gives the continuous (A, B) of a measure, ``rank_correction`` the P with
A + P P^T normal, ``nplr`` diagonalises that normal part, ``dplr`` builds the S4D-style diagonal
spectra, and ``combination`` stacks several inits over the ``n_ssm`` copies. Every random draw
comes from the ``rng`` argument (a ``numpy.random.Generator``): nothing global is used.
"""

from __future__ import annotations

import math

import numpy as np

MEASURES = ("legs", "legt", "lagt", "fourier", "fout")
DPLR_INITS = ("lin", "linear", "inv", "inverse", "inv2", "inverse2", "quad", "quadratic",
              "rand", "random", "real", "legs", "hippo")
B_INITS = ("constant", "random", "alternating", "unit-cw", "unit-ccw")
COMBINATIONS = {
    "hippo": ("legs", "fourier"),
    "diag": ("diag-inv", "diag-lin"),
    "all": ("legs", "fourier", "diag-inv", "diag-lin"),
}
TRANSFORMS = ("none", "exp", "relu", "sigmoid", "softplus")


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def transition(measure: str, N: int):
    """Continuous HiPPO (A (N, N), B (N, 1)) of ``measure`` (legs, legt, lagt, fourier/fout)."""
    n = np.arange(N, dtype=np.float64)
    if measure == "legs":
        r = np.sqrt(2 * n + 1)
        A = -(np.tril(r[:, None] * r[None, :], -1) + np.diag(n + 1))
        B = r[:, None]
    elif measure == "legt":
        # Legendre translated (LMU), halved for the time-scale convention.
        r = np.sqrt(2 * n + 1)
        i, j = n[:, None], n[None, :]
        sign = np.where(i < j, (-1.0) ** (i - j), 1.0)
        A = -0.5 * r[:, None] * sign * r[None, :]
        B = 0.5 * r[:, None]
    elif measure == "lagt":
        A = np.eye(N) / 2 - np.tril(np.ones((N, N)))
        B = np.ones((N, 1))
    elif measure in ("fourier", "fout"):
        freqs = np.arange(N // 2, dtype=np.float64)
        d = np.stack([np.zeros(N // 2), freqs], axis=-1).reshape(-1)[1:]
        A = math.pi * (-np.diag(d, 1) + np.diag(d, -1))
        b = np.zeros(N)
        b[0::2] = math.sqrt(2)
        b[0] = 1.0
        A = A - b[:, None] * b[None, :]  # the other endpoint u(t - 1)
        B = b[:, None]
    else:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    return A, B


def rank_correction(measure: str, N: int, rank: int = 1):
    """P (rank, N) with A + sum_r P_r P_r^T normal (rows beyond the measure's own are zero)."""
    n = np.arange(N, dtype=np.float64)
    if measure == "legs":
        P = np.sqrt(0.5 + n)[None, :]
    elif measure == "legt":
        if rank < 2:
            raise ValueError(f"init 'legt' needs rank >= 2 (its correction has rank 2), got {rank}")
        p = np.sqrt(1 + 2 * n)
        p0, p1 = p.copy(), p.copy()
        p0[0::2] = 0.0
        p1[1::2] = 0.0
        P = np.stack([p0, p1]) * math.sqrt(0.5)
    elif measure == "lagt":
        P = math.sqrt(0.5) * np.ones((1, N))
    elif measure in ("fourier", "fout"):
        p = np.zeros(N)
        p[0::2] = math.sqrt(2)
        p[0] = 1.0
        P = p[None, :]
    else:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if rank > P.shape[0]:
        P = np.concatenate([P, np.zeros((rank - P.shape[0], N))], axis=0)
    return P


def nplr(measure: str, N: int, rank: int = 1, B_clip: float | None = 2.0):
    """Normal-plus-low-rank form: (W (N/2,), P (rank, N/2), B (N/2,), V (N, N/2)), complex128.

    ``A = V diag(W) V^H - P P^H`` on the conjugate-pair half: W_re = mean(diag(A + P P^T)),
    (W_im, V) = eigh(-i (A + P P^T)) sorted by W_im, first N/2 kept (negative frequencies);
    B = V^H B and P = V^H P, Im(B) clipped to [-B_clip, B_clip]. A zero frequency (fourier)
    gets the hand-made eigenvector (e_0 + i e_1)/sqrt 2.
    """
    A, B = transition(measure, N)
    B = B[:, 0]
    P = rank_correction(measure, N, rank)
    AP = A + np.einsum("rn,rm->nm", P, P)
    w_re = np.mean(np.diag(AP))
    w_im, V = np.linalg.eigh(AP * -1j)
    order = np.argsort(w_im, kind="stable")
    W = (w_re + 1j * w_im)[order][: N // 2]
    V = V[:, order][:, : N // 2].copy()
    if N >= 4 and not W[-2].imag <= -1e-4:
        raise ValueError(f"init {measure!r}: more than one zero eigenvalue in the normal part")
    if N >= 2 and abs(W[-1]) < 1e-4:
        V[:, -1] = 0.0
        V[0, -1] = 2 ** -0.5
        V[1, -1] = 2 ** -0.5 * 1j
    Vh = V.conj().T
    B = Vh @ B.astype(np.complex128)
    P = np.einsum("ij,rj->ri", Vh, P.astype(np.complex128))
    if B_clip is not None:
        B = B.real + 1j * np.clip(B.imag, -B_clip, B_clip)
    return W, P, B, V


def dplr(init: str = "hippo", N: int = 64, rank: int = 1, H: int = 1, *, rng=None,
         real_random=False, real_scale=1.0, imag_random=False, imag_scale=1.0,
         B_random=False, B_init="constant", B_scale=1.0, P_scale=1.0, normalize=False):
    """S4D-style diagonal spectra: (A (H, N/2), P (rank, H, N/2), B (H, N/2), V (H, N, N/2)).

    Re A = -0.5 (or U[0,1) with ``real_random``) times ``real_scale``; Im A by ``init``:
    lin pi n, inv (N/pi)(N/(1+2n) - 1), inv2 (N/pi)(N/(1+n) - 1), quad (1+2n)^2/pi,
    rand exp(N(0,1)), real 0 (and Re A = -(1+n)), legs/hippo the LegS NPLR frequencies (with
    its B). ``B_init`` otherwise: constant, random, alternating, unit-cw, unit-ccw.
    P = N(0,1) complex * ``P_scale``.
    """
    rng = _rng(rng)
    if init not in DPLR_INITS:
        raise ValueError(f"dplr init must be one of {DPLR_INITS}, got {init!r}")
    if B_init not in B_INITS:
        raise ValueError(f"B_init must be one of {B_INITS}, got {B_init!r}")
    n2 = N // 2
    n = np.broadcast_to(np.arange(n2, dtype=np.float64), (H, n2))
    real = rng.random((H, n2)) if real_random else 0.5 * np.ones((H, n2))
    real = real_scale * real
    imag = n2 * rng.random((H, n2)) if imag_random else n.copy()
    if init in ("rand", "random"):
        imag = np.exp(rng.standard_normal((H, n2)))
    elif init == "real":
        imag = 0.0 * imag
        real = 1.0 + n
    elif init in ("lin", "linear"):
        imag = math.pi * imag
    elif init in ("inv", "inverse"):
        imag = N / math.pi * (N / (1 + 2 * imag) - 1)
    elif init in ("inv2", "inverse2"):
        imag = N / math.pi * (N / (1 + imag) - 1)
    elif init in ("quad", "quadratic"):
        imag = (1 + 2 * imag) ** 2 / math.pi
    else:  # legs / hippo
        W, _, _, _ = nplr("legs", N)
        imag = np.broadcast_to(-W.imag, (H, n2)).copy()
    A = -real - 1j * (imag_scale * imag)
    if init in ("legs", "hippo"):
        _, _, b, _ = nplr("legs", N, B_clip=2.0)
        B = np.broadcast_to(b, (H, n2)).astype(np.complex128)
    elif B_init == "constant":
        B = np.ones((H, n2), np.complex128)
    elif B_init == "random":
        B = _complex_normal(rng, (H, n2))
    elif B_init == "alternating":
        B = np.ones((H, n2), np.complex128)
        B[:, 1::2] = -1.0
    else:
        sign = -1.0 if B_init == "unit-cw" else 1.0
        B = np.broadcast_to(np.exp(sign * 2j * math.pi / N * np.arange(n2)), (H, n2))
        B = B.astype(np.complex128)
    B = B * B_scale
    if normalize:
        zeta = 2 * np.sum(np.abs(-B / A) ** 2, axis=-1, keepdims=True)
        B = B / np.sqrt(zeta)
    P = _complex_normal(rng, (rank, H, n2)) * P_scale
    V = np.broadcast_to(np.eye(N, dtype=np.complex128)[:, :n2], (H, N, n2)).copy()
    return A, P, B, V


def _complex_normal(rng, shape):
    """torch.randn for complex dtypes: real and imaginary parts each N(0, 1/2)."""
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * math.sqrt(0.5)


def ssm(init: str, N: int, rank: int, H: int, *, rng=None, **kwargs):
    """One init over H copies: 'diag-*' (P = 0) and 'dplr-*' via :func:`dplr`, else nplr."""
    rng = _rng(rng)
    if init.startswith("diag") or init.startswith("dplr"):
        parts = init[4:].split("-")
        if parts[0] != "" or len(parts) > 2:
            raise ValueError(f"init {init!r} must be 'diag', 'dplr', 'diag-<init>' or "
                             f"'dplr-<init>' with <init> in {DPLR_INITS}")
        kw = dict(kwargs)
        if init.startswith("diag"):
            kw["P_scale"] = 0.0
        if len(parts) > 1:
            kw["init"] = parts[1]
        return dplr(N=N, rank=rank, H=H, rng=rng, **kw)
    if init not in MEASURES:
        raise ValueError(f"init must be a measure {MEASURES}, a combination "
                         f"{tuple(COMBINATIONS)}, or 'diag-*'/'dplr-*', got {init!r}")
    W, P, B, V = nplr(init, N, rank)
    return (np.broadcast_to(W, (H,) + W.shape).copy(),
            np.broadcast_to(P[:, None, :], (P.shape[0], H, P.shape[1])).copy(),
            np.broadcast_to(B, (H,) + B.shape).copy(),
            np.broadcast_to(V, (H,) + V.shape).copy())


def combination(inits, N: int, rank: int, S: int, *, rng=None, **kwargs):
    """Stack ``inits`` (a name, a combination name or a list) over S = n_ssm copies."""
    rng = _rng(rng)
    if isinstance(inits, str):
        inits = COMBINATIONS.get(inits, (inits,))
    inits = tuple(inits)
    if S % len(inits):
        raise ValueError(f"n_ssm={S} must be a multiple of the number of inits {len(inits)} "
                         f"({inits})")
    parts = [ssm(i, N, rank, S // len(inits), rng=rng, **kwargs) for i in inits]
    A, P, B, V = zip(*parts)
    return (np.concatenate(A, 0), np.concatenate(P, 1), np.concatenate(B, 0),
            np.concatenate(V, 0))


def inv_transform(param, transform: str = "none"):
    """Stored value of a positive quantity under ``transform`` (clamped to >= 1e-4 first)."""
    p = np.maximum(np.asarray(param, dtype=np.float64), 1e-4)
    if transform in ("none", "relu"):
        return p
    if transform == "exp":
        return np.log(p)
    if transform == "sigmoid":
        return np.log(p) - np.log1p(-p)
    if transform == "softplus":
        return p + np.log(-np.expm1(-p))  # log(e^p - 1) without overflow
    raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")


def init_dt(H: int, N: int, dt_min: float, dt_max: float, dt_tie: bool, dt_transform: str,
            deterministic: bool, *, rng=None):
    """Stored ``inv_dt``: (H, 1) if ``dt_tie`` else (H, N/2), dt log-uniform in [dt_min, dt_max].

    ``deterministic`` uses dt = exp(linspace(log dt_min, log dt_max, H)) and stores
    ``inv_transform(dt)`` (lrnnx stores dt itself there; see README, Differences from lrnnx).
    """
    rng = _rng(rng)
    shape = (H, 1) if dt_tie else (H, N // 2)
    lo, hi = math.log(dt_min), math.log(dt_max)
    if deterministic:
        dt = np.exp(np.linspace(lo, hi, H))[:, None]
        return np.broadcast_to(inv_transform(dt, dt_transform), shape).copy()
    log_dt = rng.random(shape) * (hi - lo) + lo
    if dt_transform == "exp":
        return log_dt
    return inv_transform(np.exp(log_dt), dt_transform)


def init_ssm_dplr(N: int, H: int, n_ssm: int, channels: int, rank: int, init, deterministic,
                  *, rng=None, **init_args):
    """(A (n_ssm, N/2), P (rank, n_ssm, N/2), B (n_ssm, N/2), C (channels, H, N/2)), complex.

    C ~ complex N(0, 1), or with ``deterministic`` C = V^H e_0 per copy, tiled to H.
    """
    rng = _rng(rng)
    A, P, B, V = combination(init, N, rank, n_ssm, rng=rng, **init_args)
    if deterministic:
        e0 = np.zeros((channels, n_ssm, N), np.complex128)
        e0[:, :, 0] = 1.0
        C = np.einsum("hnm,chn->chm", V.conj(), e0)  # V^H e_0
        C = np.tile(C, (1, H // n_ssm, 1))
    else:
        C = _complex_normal(rng, (channels, H, N // 2))
    return A, P, B, C
