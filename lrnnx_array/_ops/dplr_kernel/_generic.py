"""Array-API maths of the S4 DPLR kernel (spec §3.11). Validation lives in the public modules.

Conventions. The N/2 stored modes stand for N = 2·(N/2) conjugate-pair modes: x_f = [x, x̄].
The continuous matrix in that full basis is A_f = diag(Λ_f) - P_f P_f^H (P_f = [P, P̄], i.e.
lrnnx's Λ - P Q* with Q = P̄ used as the output-side vectors). Everything here is conj-symmetric,
so kernels are real and half-basis sums become 2 Re(...).

Steps. dt is (H, 1) (one step per channel) or (H, N/2) (one per mode, lrnnx's dt_tie=False):
the discretised matrix diag(Δ)(Λ - P P^H) = diag(ΔΛ) - (ΔP) P^H stays DPLR with a left factor
ΔP and a right factor P; Δ broadcasts against the modes in v = Δ b̂ ĉ and w = ΔA, and the
gradients of a per-mode Δ are simply not summed over the modes.

Frequency form. With ω_k = e^{-2πik/L_d}, the bilinear transform gives
(I - ω Ā)^{-1} B̄ = 2/(1+ω) · Δ (z - ΔA)^{-1} B, z = 2(1-ω)/(1+ω). We use the exact forms
z = 2i tan(πk/L_d) and 2/(1+ω) = 1 + i tan(πk/L_d). At ω = -1 (k = L_d/2, even L_d) z is
infinite; there the limit is exact and Woodbury-free: k̂ = Re Σ_n Δ b_n c_n (lrnnx relies on
floating-point rounding of 1+ω instead).

Children. The Cauchy product and the matrix powers are the already-resolved implementations of
the cauchy and power families (:class:`Children`, built once by the public layer); nothing here
calls a public function or sees an ``impl`` string. The nodes lie on the imaginary axis, which
the Cauchy product is told (``imag_nodes=True``) rather than finding out from the values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from .._shared.grouping import Grouping
from ._dense import (  # noqa: F401  (canonical names of this implementation)
    _eye,
    c_from_tilde,
    c_tilde,
    dense,
    dense_vjp,
    double_length,
    expand,
    full_dt,
    herm,
    pad_full,
    reduce_full_to_dt,
    row_times,
    rows_times_vjp,
    unexpand,
)
from ._lengths import kernel_lengths
from ._steps import forward_state, step, step_setup  # noqa: F401


class Children(NamedTuple):
    """Resolved child implementations (canonical signatures of the cauchy and power families)."""

    cauchy: Callable
    cauchy_vjp: Callable
    matrix_power: Callable
    power_vjp: Callable
    power_sum: Callable


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
    dtc = xp.astype(full_dt(xp, dt), s.dtype)  # (H, 1) or, per mode, (H, N)
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


def _cauchy(xp, ops, v, z, w, guard):
    """The symmetric Cauchy product of v (nb, nc, H, N/2) against w (H, N/2) shared per channel."""
    grp = Grouping(tuple(v.shape[:-1]), tuple(w.shape[:-1]))
    N2 = v.shape[-1]
    out = ops.cauchy(xp, grp.rows(xp, v, N2), z, grp.shared(xp, w, N2), imag_nodes=True,
                     guard=guard)
    return grp, grp.unrows(xp, out)


def kernel_rows(xp, A, B, Ct, P, dt, L, Ld, state, *, ops, guard):
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
    dtc = xp.astype(dt, A.dtype)  # (H, 1), or (H, N/2) per mode: Δ P on the rows, P̄ kept
    v = Bs[:, None, ...] * Cs[None, ...] * dtc  # (nb, nc, H, N/2)
    w = dtc * A
    z, fac, has_nyquist = nodes(xp, Ld, A.dtype)
    kf = woodbury(xp, _cauchy(xp, ops, v, z, w, guard)[1], rank) * fac
    if has_nyquist:
        nb, nc = Bs.shape[0] - rank, Cs.shape[0] - rank
        last = xp.sum(v[:nb, :nc, ...], axis=-1, keepdims=True)
        kf = xp.concat([kf, xp.astype(xp.real(last), A.dtype)], axis=-1)
    return xp.fft.irfft(kf, n=Ld, axis=-1)[..., :L]



# ---- VJP (hand-derived, stage by stage in reverse) ---------------------------------------------


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
        XH = herm(xp, X)
        g01 = back(-xp.matmul(G, XH))
        G10 = xp.matmul(herm(xp, Minv), -xp.matmul(herm(xp, R01), G))
        g10, g11 = back(G10), back(-xp.matmul(G10, XH))
    top = xp.concat([g, g01], axis=1)
    return xp.concat([top, xp.concat([g10, g11], axis=1)], axis=0)


def state_input_vjp(xp, gu, state, A, P, dt):
    """Back through :func:`state_input`: u = [(1/Δ) s + (Λ_f s - P_f (P_f^H s))/2][:N/2].

    Returns (g_A, g_P or None, g_dt shaped like dt, g_state shaped like ``state``).
    """
    N2 = A.shape[-1]
    s = expand(xp, half_state(xp, state, N2))  # (b, H, N)
    g = pad_full(xp, gu)
    dtf = full_dt(xp, dt)  # (H, 1) or, per mode, (H, N)
    dtc = xp.astype(dtf, s.dtype)
    Lf = expand(xp, A)
    gs = g / dtc + xp.conj(Lf) * g / 2
    gA = unexpand(xp, xp.sum(g * xp.conj(s), axis=0) / 2)
    if dt.shape[-1] == 1:
        gdt = -xp.sum(xp.real(xp.conj(g) * s), axis=(0, 2))[:, None] / dt**2
    else:
        gdt = reduce_full_to_dt(xp, -xp.sum(xp.real(xp.conj(g) * s), axis=0) / dtf**2, dt)
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


def kernel_rows_vjp(xp, gk, A, B, Ct, P, dt, L, Ld, state, *, ops, guard):
    """VJP of :func:`kernel` for the cotangent gk (nb, ch, H, L) (real).

    Returns (g_A, g_B, g_C̃, g_P or None, g_dt real shaped like dt, g_state or None), dt being
    the rate-scaled step the kernel was called with ((H, 1), or (H, N/2) per mode: v = Δ b̂ ĉ and
    w = Δ A broadcast Δ against the modes, so the low-rank rows carry the left factor Δ P while
    the columns keep the right factor P̄).
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
    grp, r = _cauchy(xp, ops, v, z, w, guard)
    nb = Bs.shape[0] - rank
    Fz = z.shape[0]

    # irfft, the constant 2/(1+ω), Woodbury, Cauchy (nodes fixed: no dz)
    gkf = _irfft_vjp(xp, gk, Ld, A.dtype)
    gr = woodbury_vjp(xp, gkf[..., :Fz] * xp.conj(fac), r, rank)
    N2 = v.shape[-1]
    gv, _, gw = ops.cauchy_vjp(
        xp, grp.rows(xp, gr, Fz), grp.rows(xp, v, N2), z, grp.shared(xp, w, N2), need_dz=False,
        imag_nodes=True, guard=guard)
    gv, gw = grp.unrows(xp, gv), xp.reshape(gw, tuple(w.shape))
    if has_nyquist:  # k̂ at ω = -1 is Re Σ_n v_n over the (state, B) x C̃ block
        gn = xp.astype(xp.real(gkf[..., Fz:]), A.dtype)  # (nb, nc, H, 1)
        if rank:
            gn = xp.concat([gn, xp.zeros((nb, rank) + gn.shape[2:], dtype=A.dtype)], axis=1)
            gn = xp.concat([gn, xp.zeros((rank,) + gn.shape[1:], dtype=A.dtype)], axis=0)
        gv = gv + gn

    # v = Δ b̂ ĉ, w = Δ A
    gBs = xp.sum(gv * xp.conj(Cs[None, ...] * dtc), axis=1)
    gCs = xp.sum(gv * xp.conj(Bs[:, None, ...] * dtc), axis=0)
    gv_dt = xp.real(xp.conj(gv) * (Bs[:, None, ...] * Cs[None, ...]))
    gw_dt = xp.real(xp.conj(gw) * A)
    if dt.shape[-1] == 1:
        gdt = (xp.sum(gv_dt, axis=(0, 1, 3)) + xp.sum(gw_dt, axis=-1))[:, None]
    else:  # one step per mode: no sum over the modes
        gdt = xp.sum(gv_dt, axis=(0, 1)) + gw_dt
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


# ---- canonical kernel and VJP: the C̃ chain around the kernel rows ------------------------------


def _c_tilde_chain(xp, A, C, P, dt, lk, C_is_tilde, l_kernel, ops):
    """(C̃ for length lk, what the VJP needs to go back through it).

    Plain C: C̃ = (C_f - C_f Ā^lk)[:N/2]. C̃ given for l_kernel: doubled as lrnnx does,
    C̃ <- (C̃_f + C̃_f Ā^l)[:N/2] while l < lk.
    """
    N2 = A.shape[-1]
    if C_is_tilde and l_kernel >= lk:
        return C, (None, [])
    dA0 = dense(xp, A, P, xp.zeros(A.shape, dtype=A.dtype), dt)[0]
    if not C_is_tilde:
        Q0 = ops.matrix_power(xp, dA0, lk)
        Cf = expand(xp, C)
        return (Cf - row_times(xp, Cf, Q0))[..., :N2], (dA0, [(Cf, lk, Q0)])
    chain, Ct, l0 = [], C, l_kernel
    while l0 < lk:
        Q = ops.matrix_power(xp, dA0, l0)
        Cf = expand(xp, Ct)
        chain.append((Cf, l0, Q))
        Ct = (Cf + row_times(xp, Cf, Q))[..., :N2]
        l0 *= 2
    return Ct, (dA0, chain)


def kernel(xp, A, B, C, P, dt, state, L, *, rate, C_is_tilde, l_kernel, ops, guard):
    """(k (ch, H, L) real, k_state (batch, ch, H, L) or None) from the prepared arrays."""
    lk, Ld = kernel_lengths(L, rate, l_kernel, C_is_tilde)
    Ct, _ = _c_tilde_chain(xp, A, C, P, dt, lk, C_is_tilde, l_kernel, ops)
    k = kernel_rows(xp, A, B, Ct, P, dt * rate, L, Ld, state, ops=ops, guard=guard)
    nb = 0 if state is None else state.shape[0]
    return k[nb, ...], (k[:nb, ...] if state is not None else None)


def kernel_vjp(xp, gk, A, B, C, P, dt, state, L, *, rate, C_is_tilde, l_kernel, ops, guard):
    """(gA, gB, gC, gP or None, gdt like dt, gstate or None) for the stacked cotangent rows gk.

    Back through the kernel rows, then the C̃ chain: for Y = C_f ± C_f Q (Q = Ā^l) the
    cotangents of C_f and Q (rows_times_vjp), Q's through the power family's VJP, and Ā's
    through the dense bilinear solve.
    """
    lk, Ld = kernel_lengths(L, rate, l_kernel, C_is_tilde)
    Ct, (dA0, chain) = _c_tilde_chain(xp, A, C, P, dt, lk, C_is_tilde, l_kernel, ops)
    gA, gB, gCt, gP, gdt, gstate = kernel_rows_vjp(
        xp, gk, A, B, Ct, P, dt * rate, L, Ld, state, ops=ops, guard=guard)
    gdt = gdt * rate
    sign = 1 if C_is_tilde else -1  # Y = C_f + C_f Q (doubling) or C_f - C_f Q (plain C)
    gdA0 = None
    for Cf, lj, Q in reversed(chain):
        gY = pad_full(xp, gCt)
        gCf, gQ = rows_times_vjp(xp, gY, Cf, Q)
        gCt = unexpand(xp, gY + sign * gCf)
        gQ = ops.power_vjp(xp, lj, dA0, None, gQ, None)[0]
        gdA0 = sign * gQ if gdA0 is None else gdA0 + sign * gQ
    if gdA0 is not None:
        gA0, gP0, _, gdt0 = dense_vjp(xp, gdA0, None, A, P, None, dt)
        gA, gdt = gA + gA0, gdt + gdt0
        if gP is not None:
            gP = gP + gP0
    return gA, gB, gCt, gP, gdt, gstate
