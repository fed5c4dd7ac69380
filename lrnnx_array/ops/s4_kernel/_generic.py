"""Array-API maths of the S4 DPLR kernel (spec §3.11). Validation lives in ``_api``.

Conventions. The N/2 stored modes stand for N = 2·(N/2) conjugate-pair modes: x_f = [x, x̄].
The continuous matrix in that full basis is A_f = diag(Λ_f) - P_f P_f^H (P_f = [P, P̄], i.e.
lrnnx's Λ - P Q* with Q = P̄ used as the output-side vectors). Everything here is conj-symmetric,
so kernels are real and half-basis sums become 2 Re(...).

Frequency form. With ω_k = e^{-2πik/L_d}, the bilinear transform gives
(I - ω Ā)^{-1} B̄ = 2/(1+ω) · Δ (z - ΔA)^{-1} B, z = 2(1-ω)/(1+ω). We use the exact forms
z = 2i tan(πk/L_d) and 2/(1+ω) = 1 + i tan(πk/L_d). At ω = -1 (k = L_d/2, even L_d) z is
infinite; there the limit is exact and Woodbury-free: k̂ = Re Σ_n Δ b_n c_n (lrnnx relies on
floating-point rounding of 1+ω instead).
"""

from __future__ import annotations

import math

from ..cauchy import cauchy
from ..power import power


def expand(xp, x):
    return xp.concat([x, xp.conj(x)], axis=-1)


def _eye(xp, N, dtype):
    return xp.eye(N, dtype=dtype)


def full_matrix(xp, A, P):
    """(H, N, N) A_f = diag(Λ_f) - P_f P_f^H."""
    Lf = expand(xp, A)
    N = Lf.shape[-1]
    M = Lf[..., None] * _eye(xp, N, A.dtype)
    if P is not None:
        Pm = xp.permute_dims(expand(xp, P), (1, 2, 0))  # (H, N, R)
        M = M - xp.matmul(Pm, xp.conj(xp.permute_dims(Pm, (0, 2, 1))))
    return M


def dense(xp, A, P, B, dt):
    """Bilinear discretisation in the full basis: dA (H, N, N), dB (H, N). dt: (H, 1) real."""
    Af = full_matrix(xp, A, P)
    N = Af.shape[-1]
    I = _eye(xp, N, Af.dtype)
    two = xp.astype(2.0 / dt, Af.dtype)[..., None]  # (H, 1, 1)
    M = two * I - Af
    dA = xp.linalg.solve(M, two * I + Af)
    dB = xp.linalg.solve(M, 2 * expand(xp, B)[..., None])[..., 0]
    return dA, dB


def _row_times(xp, Cf, M):
    """Rows C_f (ch, H, N) times matrices M (H, N, N)."""
    return xp.matmul(Cf[..., None, :], M)[..., 0, :]


def c_tilde(xp, A, C, P, dt, L, *, impl="auto"):
    dA, _ = dense(xp, A, P, xp.zeros(A.shape, dtype=A.dtype), dt)
    Cf = expand(xp, C)
    return (Cf - _row_times(xp, Cf, power(L, dA, impl=impl)))[..., : A.shape[-1]]


def c_from_tilde(xp, Ct, A, P, dt, L, *, impl="auto"):
    """C = C̃ (I - Ā^L)^{-1}: a solve with the transposed matrix, rows as right-hand sides."""
    dA, _ = dense(xp, A, P, xp.zeros(A.shape, dtype=A.dtype), dt)
    N = dA.shape[-1]
    M = _eye(xp, N, dA.dtype) - power(L, dA, impl=impl)
    rhs = xp.permute_dims(expand(xp, Ct), (1, 2, 0))  # (H, N, ch)
    C = xp.linalg.solve(xp.permute_dims(M, (0, 2, 1)), rhs)
    return xp.permute_dims(C, (2, 0, 1))[..., : A.shape[-1]]


def double_length(xp, Ct, A, P, dt, l_kernel, *, impl="auto"):
    """C̃ (I + Ā^{l}) = C (I - Ā^{2l}) for C̃ = C (I - Ā^{l})."""
    dA, _ = dense(xp, A, P, xp.zeros(A.shape, dtype=A.dtype), dt)
    Cf = expand(xp, Ct)
    return (Cf + _row_times(xp, Cf, power(l_kernel, dA, impl=impl)))[..., : A.shape[-1]]


def state_input(xp, state, A, P, dt):
    """B-like rows for the state: (1/Δ)(I + ΔA_f/2) s, truncated to N/2 (s conj-expanded)."""
    N2 = A.shape[-1]
    s = expand(xp, state) if state.shape[-1] == N2 else state
    sA = expand(xp, A) * s
    if P is not None:
        Pf = expand(xp, P)  # (R, H, N)
        proj = xp.sum(xp.conj(Pf)[None, ...] * s[:, None, ...], axis=-1)  # (b, R, H)
        sA = sA - xp.sum(proj[..., None] * Pf[None, ...], axis=1)
    dtc = xp.astype(dt, s.dtype)
    return (s / dtc + sA / 2)[..., :N2]


def nodes(xp, Ld, cdtype):
    """(z, 2/(1+ω)) for the rfft nodes except ω = -1, plus whether that node exists."""
    F = Ld // 2 + 1
    has_nyquist = Ld % 2 == 0
    Fz = F - 1 if has_nyquist else F
    # float64 angles: tan near π/2 is sensitive, and this is O(L) work.
    t = xp.tan(xp.arange(Fz, dtype=xp.float64) * (math.pi / Ld))
    t = xp.astype(t, cdtype)
    one_j = xp.asarray(1j, dtype=cdtype)
    return 2 * one_j * t, 1 + one_j * t, has_nyquist


def woodbury(xp, r, rank):
    """k̂ = r00 - r01 (I + r11)^{-1} r10 over the trailing rank rows/columns of r (b, c, H, F)."""
    if rank == 0:
        return r
    b0, c0 = r.shape[0] - rank, r.shape[1] - rank
    r00, r01 = r[:b0, :c0, ...], r[:b0, c0:, ...]
    r10, r11 = r[b0:, :c0, ...], r[b0:, c0:, ...]
    if rank == 1:
        return r00 - r01 * r10 / (1 + r11)
    if rank == 2:
        a, b = 1 + r11[0:1, 0:1, ...], r11[0:1, 1:2, ...]
        c, d = r11[1:2, 0:1, ...], 1 + r11[1:2, 1:2, ...]
        det = a * d - b * c
        p0, p1 = r10[0:1, ...], r10[1:2, ...]
        return r00 - (r01[:, 0:1, ...] * (d * p0 - b * p1)
                      + r01[:, 1:2, ...] * (a * p1 - c * p0)) / det
    # rank > 2: one small solve per (h, frequency).
    eye = _eye(xp, rank, r.dtype)
    M = xp.permute_dims(r11, (2, 3, 0, 1)) + eye  # (H, F, R, R)
    X = xp.linalg.solve(M, xp.permute_dims(r10, (2, 3, 0, 1)))  # (H, F, R, c0)
    corr = xp.matmul(xp.permute_dims(r01, (2, 3, 0, 1)), X)  # (H, F, b0, c0)
    return r00 - xp.permute_dims(corr, (2, 3, 0, 1))


def kernel(xp, A, B, Ct, P, dt, L, Ld, state, *, impl="auto"):
    """Rows (state..., B) x (C̃ channels) of the kernel, each of length L: (nb, ch, H, L)."""
    rows_b = [B[None, ...]]
    if state is not None:
        rows_b.insert(0, state_input(xp, state, A, P, dt))
    rank = 0 if P is None else P.shape[0]
    rows_c = [Ct]
    if rank:
        rows_b.append(P)
        rows_c.append(xp.conj(P))
    Bs, Cs = xp.concat(rows_b, axis=0), xp.concat(rows_c, axis=0)
    dtc = xp.astype(dt, A.dtype)  # (H, 1)
    v = Bs[:, None, ...] * Cs[None, ...] * dtc  # (nb, nc, H, N/2)
    w = dtc * A
    z, fac, has_nyquist = nodes(xp, Ld, A.dtype)
    kf = woodbury(xp, cauchy(v, z, w, impl=impl), rank) * fac
    if has_nyquist:
        nb, nc = Bs.shape[0] - rank, Cs.shape[0] - rank
        last = xp.sum(v[:nb, :nc, ...], axis=-1, keepdims=True)
        kf = xp.concat([kf, xp.astype(xp.real(last), A.dtype)], axis=-1)
    return xp.fft.irfft(kf, n=Ld, axis=-1)[..., :L]


# ---- step machinery ---------------------------------------------------------------------------


def linear_setup(xp, A, B, P, dt):
    """D = (2/Δ - Λ)^{-1}, E = 2/Δ + Λ, R = (I + 2 Re(P^H D P))^{-1} P^H D (half basis)."""
    two = xp.astype(2.0 / dt, A.dtype)
    D = 1 / (two - A)
    E = two + A
    R = None
    if P is not None:
        Pm = xp.permute_dims(P, (1, 0, 2))  # (H, R, N/2)
        PhD = xp.conj(Pm) * D[:, None, :]
        G = xp.matmul(PhD, xp.permute_dims(Pm, (0, 2, 1)))  # (H, R, R)
        W = _eye(xp, P.shape[0], A.dtype) + xp.astype(2 * xp.real(G), A.dtype)
        R = xp.linalg.solve(W, PhD)  # (H, R, N/2)
    return D, E, R


def _re2(xp, x, dtype):
    return xp.astype(2 * xp.real(x), dtype)


def linear_step(xp, u, x, D, E, P, R, B):
    """x' = D v - D P (R v), v = E x - P (P^H x) + 2 B u, conj-pair sums as 2 Re (u real)."""
    cd = x.dtype
    v = E * x + 2 * B * xp.astype(u, cd)[..., None]
    if P is not None:
        Pm = xp.permute_dims(P, (1, 0, 2))  # (H, R, N/2)
        PmT = xp.permute_dims(Pm, (0, 2, 1))
        Px = _re2(xp, xp.matmul(x[..., None, :], xp.conj(PmT)), cd)  # (b, H, 1, R)
        v = v - xp.matmul(Px, Pm)[..., 0, :]
        Rv = _re2(xp, xp.matmul(v[..., None, :], xp.permute_dims(R, (0, 2, 1))), cd)
        return D * (v - xp.matmul(Rv, Pm)[..., 0, :])
    return D * v


def eig(xp, M):
    """Eigen-decomposition of (H, N, N); host NumPy when the namespace has no ``linalg.eig``.

    The array API only standardises ``eigh``; NumPy and array_api_strict (2025.12) have ``eig``.
    CuPy has none, so the diagonal step set-up (a one-off) copies dA to the host and back.
    """
    fn = getattr(xp.linalg, "eig", None)
    if fn is not None:
        try:
            w, V = fn(M)
            return w, V
        except (NotImplementedError, TypeError):
            pass
    import numpy as np

    from ... import testing
    from ..._backend import device

    w, V = np.linalg.eig(testing.to_numpy(M))
    dev = device(M)
    return xp.asarray(w, dtype=M.dtype, device=dev), xp.asarray(V, dtype=M.dtype, device=dev)
