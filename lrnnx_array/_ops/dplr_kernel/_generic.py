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

from ..cauchy import cauchy, cauchy_vjp
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


def half_state(xp, state, N2):
    """The N/2 stored modes of a state; a full (N) state is first made conjugate-symmetric.

    Only the conjugate-symmetric part (s + J s̄)/2 of a full state reaches Re(C̃ Ā^l s) (J swaps
    the halves), so its first half, (s[:N/2] + conj(s[N/2:]))/2, carries the whole effect; plain
    truncation would be wrong for a full state that is not already conjugate-symmetric.
    """
    if state.shape[-1] == N2:
        return state
    return (state[..., :N2] + xp.conj(state[..., N2:])) / 2


def state_input(xp, state, A, P, dt):
    """B-like rows for the state: (1/Δ)(I + ΔA_f/2) s, truncated to N/2 (s conj-expanded)."""
    N2 = A.shape[-1]
    s = expand(xp, half_state(xp, state, N2))
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


# ---- VJP (hand-derived, stage by stage in reverse) ---------------------------------------------
#
# PyTorch's complex convention: a real loss ℓ has g_z = ∂ℓ/∂Re z + i ∂ℓ/∂Im z, so for y = M x,
# g_M = g_y x^H and g_x = M^H g_y; for X = M^{-1} Y, g_Y = M^{-H} g_X and g_M = -g_Y X^H; a
# real parameter t with u = t a gets Re Σ conj(g_u) a.


def _herm(xp, M):
    return xp.conj(xp.matrix_transpose(M))


def unexpand(xp, g):
    """Cotangent of x from that of x_f = [x, x̄]."""
    N2 = g.shape[-1] // 2
    return g[..., :N2] + xp.conj(g[..., N2:])


def _pad_full(xp, g):
    """Cotangent of x_f from that of its truncation x_f[..., :N/2]."""
    return xp.concat([g, xp.zeros_like(g)], axis=-1)


def dense_vjp(xp, gdA, gdB, A, P, B, dt):
    """Back through :func:`dense`: X = M^{-1} Y, M = αI - A_f, Y = [αI + A_f, 2B_f], α = 2/Δ.

    Returns (g_A (H, N/2), g_P or None, g_B (H, N/2) or None, g_dt (H, 1) real).
    """
    Af = full_matrix(xp, A, P)
    N = Af.shape[-1]
    I = _eye(xp, N, Af.dtype)
    alpha = xp.astype(2.0 / dt, Af.dtype)[..., None]  # (H, 1, 1)
    M = alpha * I - Af
    Y, gX = alpha * I + Af, gdA
    if gdB is not None:
        Y = xp.concat([Y, 2 * expand(xp, B)[..., None]], axis=-1)
        gX = xp.concat([gX, gdB[..., None]], axis=-1)
    X = xp.linalg.solve(M, Y)
    gY = xp.linalg.solve(_herm(xp, M), gX)
    gM = -xp.matmul(gY, _herm(xp, X))
    gY1 = gY[..., :N]
    gAf = gY1 - gM
    galpha = xp.sum(xp.real((gY1 + gM) * I), axis=(-2, -1))  # Re tr(g_Y1) + Re tr(g_M)
    gdt = -2.0 / dt**2 * galpha[:, None]
    gB = None if gdB is None else unexpand(xp, 2 * gY[..., N])
    gA, gP = full_matrix_vjp(xp, gAf, P)
    return gA, gP, gB, gdt


def full_matrix_vjp(xp, gAf, P):
    """(g_A, g_P) from the cotangent of A_f = diag(Λ_f) - P_f P_f^H: g_P_f = -(g + g^H) P_f."""
    N = gAf.shape[-1]
    gA = unexpand(xp, xp.sum(gAf * _eye(xp, N, gAf.dtype), axis=-1))
    if P is None:
        return gA, None
    Pm = xp.permute_dims(expand(xp, P), (1, 2, 0))  # (H, N, R)
    gPm = -xp.matmul(gAf + _herm(xp, gAf), Pm)
    return gA, unexpand(xp, xp.permute_dims(gPm, (2, 0, 1)))


def rows_times_vjp(xp, g, C, M):
    """For Y = C_f M (rows C_f (ch, H, N), M (H, N, N)): (g_C_f, g_M) from g_Y."""
    gC = xp.matmul(g[..., None, :], _herm(xp, M))[..., 0, :]
    gM = xp.matmul(_herm(xp, xp.permute_dims(C, (1, 0, 2))), xp.permute_dims(g, (1, 0, 2)))
    return gC, gM


def woodbury_vjp(xp, g, r, rank):
    """Cotangent of r (b, c, H, F) from g, that of k̂ = r00 - r01 X, X = (I + r11)^{-1} r10.

    g_r00 = g, g_r01 = -g X^H, g_X = -r01^H g, g_r10 = (I + r11)^{-H} g_X, g_r11 = -g_r10 X^H.
    """
    if rank == 0:
        return g
    b0, c0 = r.shape[0] - rank, r.shape[1] - rank
    r01, r10, r11 = r[:b0, c0:, ...], r[b0:, :c0, ...], r[b0:, c0:, ...]
    if rank == 1:  # elementwise over (h, frequency)
        m = 1 + r11
        X = r10 / m
        g01 = -xp.sum(g * xp.conj(X), axis=1, keepdims=True)
        g10 = -xp.sum(xp.conj(r01) * g, axis=0, keepdims=True) / xp.conj(m)
        g11 = -xp.sum(g10 * xp.conj(X), axis=1, keepdims=True)
    else:  # (H, F, ., .) matrices; (I + r11)^{-1} in closed form for rank 2
        to_m = lambda x: xp.permute_dims(x, (2, 3, 0, 1))  # noqa: E731
        back = lambda x: xp.permute_dims(x, (2, 3, 0, 1))  # noqa: E731
        Mm = to_m(r11) + _eye(xp, rank, r.dtype)
        if rank == 2:
            a, b = Mm[..., 0:1, 0:1], Mm[..., 0:1, 1:2]
            c, d = Mm[..., 1:2, 0:1], Mm[..., 1:2, 1:2]
            det = a * d - b * c
            Minv = xp.concat([xp.concat([d, -b], axis=-1), xp.concat([-c, a], axis=-1)],
                             axis=-2) / det
        else:
            Minv = xp.linalg.inv(Mm)
        G, R01 = to_m(g), to_m(r01)
        X = xp.matmul(Minv, to_m(r10))
        XH = _herm(xp, X)
        g01 = back(-xp.matmul(G, XH))
        G10 = xp.matmul(_herm(xp, Minv), -xp.matmul(_herm(xp, R01), G))
        g10, g11 = back(G10), back(-xp.matmul(G10, XH))
    top = xp.concat([g, g01], axis=1)
    return xp.concat([top, xp.concat([g10, g11], axis=1)], axis=0)


def state_input_vjp(xp, gu, state, A, P, dt):
    """Back through :func:`state_input`: u = [(1/Δ) s + (Λ_f s - P_f (P_f^H s))/2][:N/2].

    Returns (g_A, g_P or None, g_dt (H, 1), g_state shaped like ``state``).
    """
    N2 = A.shape[-1]
    s = expand(xp, half_state(xp, state, N2))  # (b, H, N)
    g = _pad_full(xp, gu)
    dtc = xp.astype(dt, s.dtype)  # (H, 1)
    Lf = expand(xp, A)
    gs = g / dtc + xp.conj(Lf) * g / 2
    gA = unexpand(xp, xp.sum(g * xp.conj(s), axis=0) / 2)
    gdt = -xp.sum(xp.real(xp.conj(g) * s), axis=(0, 2))[:, None] / dt**2
    gP = None
    if P is not None:
        Pf = expand(xp, P)  # (R, H, N)
        proj = xp.sum(xp.conj(Pf)[None, ...] * s[:, None, ...], axis=-1)  # (b, R, H)
        gproj = -xp.sum(xp.conj(Pf)[None, ...] * g[:, None, ...], axis=-1) / 2
        gPf = xp.sum(xp.conj(gproj)[..., None] * s[:, None, ...]
                     - g[:, None, ...] * xp.conj(proj)[..., None] / 2, axis=0)
        gs = gs + xp.sum(Pf[None, ...] * gproj[..., None], axis=1)
        gP = unexpand(xp, gPf)
    gh = unexpand(xp, gs)
    if state.shape[-1] != N2:  # h = (s[:N/2] + conj(s[N/2:]))/2
        gh = xp.concat([gh / 2, xp.conj(gh) / 2], axis=-1)
    return gA, gP, gdt, gh


def _irfft_vjp(xp, g, Ld, cdtype):
    """Cotangent of X from g, that of x = irfft(X, n=L_d): rfft(g) / L_d, interior bins twice.

    x_t = (1/n)[Re X_0 + 2 Σ_{0<k<n/2} Re(X_k e^{2πikt/n}) + Re X_{n/2} (-1)^t (even n)], so
    g_{X_k} = (w_k/n) Σ_t g_t e^{-2πikt/n} with w = 1 at DC and (even n) Nyquist, 2 elsewhere;
    the imaginary parts irfft ignores get zero (rfft of real g is real at those bins).
    """
    L = g.shape[-1]
    if L < Ld:
        g = xp.concat([g, xp.zeros(g.shape[:-1] + (Ld - L,), dtype=g.dtype)], axis=-1)
    G = xp.fft.rfft(g, n=Ld, axis=-1)
    F = Ld // 2 + 1
    k = xp.arange(F)
    edge = (k == 0) | (k == F - 1) if Ld % 2 == 0 else k == 0
    w = xp.where(edge, xp.asarray(1.0 / Ld, dtype=g.dtype), xp.asarray(2.0 / Ld, dtype=g.dtype))
    G = xp.astype(G, cdtype) if G.dtype != cdtype else G
    return G * xp.astype(w, cdtype)


def kernel_vjp(xp, gk, A, B, Ct, P, dt, L, Ld, state, *, impl="auto"):
    """VJP of :func:`kernel` for the cotangent gk (nb, ch, H, L) (real).

    Returns (g_A, g_B, g_C̃, g_P or None, g_dt (H, 1) real, g_state or None), dt being the
    rate-scaled step the kernel was called with.
    """
    rows_b = [B[None, ...]]
    nbs = 0 if state is None else state.shape[0]
    if state is not None:
        rows_b.insert(0, state_input(xp, state, A, P, dt))
    rank = 0 if P is None else P.shape[0]
    rows_c = [Ct]
    if rank:
        rows_b.append(P)
        rows_c.append(xp.conj(P))
    Bs, Cs = xp.concat(rows_b, axis=0), xp.concat(rows_c, axis=0)
    dtc = xp.astype(dt, A.dtype)
    v = Bs[:, None, ...] * Cs[None, ...] * dtc
    w = dtc * A
    z, fac, has_nyquist = nodes(xp, Ld, A.dtype)
    r = cauchy(v, z, w, impl=impl)
    nb = Bs.shape[0] - rank
    Fz = z.shape[0]

    # irfft, the constant 2/(1+ω), Woodbury, Cauchy (nodes fixed: no dz)
    gkf = _irfft_vjp(xp, gk, Ld, A.dtype)
    gr = woodbury_vjp(xp, gkf[..., :Fz] * xp.conj(fac), r, rank)
    gv, _, gw = cauchy_vjp(gr, v, z, w, need_dz=False, impl=impl)
    if has_nyquist:  # k̂ at ω = -1 is Re Σ_n v_n over the (state, B) x C̃ block
        gn = xp.astype(xp.real(gkf[..., Fz:]), A.dtype)  # (nb, nc, H, 1)
        if rank:
            gn = xp.concat([gn, xp.zeros((nb, rank) + gn.shape[2:], dtype=A.dtype)], axis=1)
            gn = xp.concat([gn, xp.zeros((rank,) + gn.shape[1:], dtype=A.dtype)], axis=0)
        gv = gv + gn

    # v = Δ b̂ ĉ, w = Δ A
    gBs = xp.sum(gv * xp.conj(Cs[None, ...] * dtc), axis=1)
    gCs = xp.sum(gv * xp.conj(Bs[:, None, ...] * dtc), axis=0)
    gdt = (xp.sum(xp.real(xp.conj(gv) * (Bs[:, None, ...] * Cs[None, ...])), axis=(0, 1, 3))
           + xp.sum(xp.real(xp.conj(gw) * A), axis=-1))[:, None]
    gA = gw * dtc
    gB, gCt = gBs[nbs, ...], gCs[: Ct.shape[0], ...]
    gP = None
    if rank:
        gP = gBs[nbs + 1 :, ...] + xp.conj(gCs[Ct.shape[0] :, ...])
    gstate = None
    if state is not None:
        gA2, gP2, gdt2, gstate = state_input_vjp(xp, gBs[:nbs, ...], state, A, P, dt)
        gA, gdt = gA + gA2, gdt + gdt2
        if rank:
            gP = gP + gP2
    return gA, gB, gCt, gP, gdt, gstate
