"""NumPy float64 oracle for the S4 DPLR kernel: the dense discretised system and plain powers.

A_full = diag(Λ, Λ̄) - P_f P_f^H with P_f = [P, P̄] (conjugate-pair expansion of the N/2 stored
modes), bilinear Ā = (2/Δ - A)^{-1}(2/Δ + A), B̄ = (2/Δ - A)^{-1} 2B. The kernel is

    k_l = Re( C̃_f (I - Ā'^{L_d})^{-1} Ā'^l B̄' ),   C̃ = C (I - Ā^{l_kernel})

with Ā', B̄' at Δ·rate and L_d the discrete length; at rate 1 and L_d = l_kernel this is the
plain C Ā^l B̄. Matrix powers are a loop of products (no FFT, no Cauchy, no Woodbury).

With one step per mode (dt (H, N/2), lrnnx's dt_tie=False) the dense matrix is X = diag(Δ_f) A_f
with input Δ_f B_f (Δ_f = [Δ, Δ]), and Ā = (I - X/2)^{-1}(I + X/2), B̄ = (I - X/2)^{-1} Δ_f B_f.
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


def _per_mode(dt, H):
    """Whether dt holds one step per mode ((H, N/2) with N/2 > 1) rather than per channel."""
    return np.size(dt) != H


def _dense_per_mode_ref(Af, B, dt):
    """One step per mode: X = diag(Δ_f) A_f, input Δ_f B_f, unit-step bilinear.

    dA = (I - X/2)^{-1}(I + X/2), dB = (I - X/2)^{-1} Δ_f B_f, with Δ_f = [Δ, Δ] (H, N).
    """
    H, N, _ = Af.shape
    dtf = expand(dt).real  # (H, N)
    X = dtf[:, :, None] * Af
    K = np.eye(N) - X / 2
    dA = np.linalg.solve(K, np.eye(N) + X / 2)
    dB = np.linalg.solve(K, (dtf * expand(np.reshape(B, (H, -1))))[..., None])[..., 0]
    return dA, dB


def dplr_dense_ref(A, P, B, dt):
    """Bilinear discretisation of the full system: dA (H, N, N), dB (H, N).

    dt (H,)/(H, 1), one step per channel, or (H, N/2), one per mode (lrnnx's dt_tie=False).
    """
    Af = full_matrix_ref(A, P)
    H, N, _ = Af.shape
    if _per_mode(dt, H):
        return _dense_per_mode_ref(Af, B, np.reshape(np.asarray(dt, np.float64), (H, N // 2)))
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
    dt = np.reshape(np.asarray(dt, np.float64), (H, N2) if _per_mode(dt, H) else (H,))
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


# ---- VJP of the oracle: explicit reverse loops through the dense formula ----------------------
#
# Independent of the Cauchy/Woodbury/FFT route the fast path differentiates: here the chain runs
# k_l = Re(C̃' Ā^l B̄), C̃' = C̃_f (I - Ā^{L_d})^{-1}, back through plain matrix products, one
# time step (or one power) at a time. PyTorch's complex convention throughout: for y = M x,
# g_M = g_y x^H and g_x = M^H g_y; for X = K^{-1}, g_K = -X^H g_X X^H.


def _unexpand(g):
    """Cotangent of x from that of x_f = [x, x̄]."""
    N2 = g.shape[-1] // 2
    return g[..., :N2] + np.conj(g[..., N2:])


def _herm(M):
    return np.conj(np.swapaxes(M, -1, -2))


def mpow_vjp_ref(g, M, n):
    """Cotangent of M from that of M^n, back through M^j = M^{j-1} M for j = n .. 1."""
    pw = [np.broadcast_to(np.eye(M.shape[-1]), M.shape).astype(np.complex128)]
    for _ in range(n - 1):
        pw.append(pw[-1] @ M)
    gM = np.zeros_like(M)
    G = g
    for j in range(n, 0, -1):
        gM = gM + _herm(pw[j - 1]) @ G
        G = G @ _herm(M)
    return gM


def dense_vjp_ref(gdA, gdB, A, P, B, dt):
    """Back through dA = M^{-1}(αI + A_f), dB = M^{-1} 2B_f, M = αI - A_f, α = 2/Δ.

    Returns (g_A_f (H, N, N), g_B_f (H, N) or None, g_dt (H,), or (H, N/2) per mode).
    """
    Af = full_matrix_ref(A, P)
    H, N, _ = Af.shape
    if _per_mode(dt, H):
        return _dense_per_mode_vjp_ref(gdA, gdB, Af, B, np.reshape(np.asarray(dt, np.float64),
                                                                   (H, N // 2)))
    dt = np.reshape(np.asarray(dt, np.float64), (H,))
    dA, dB = dplr_dense_ref(A, P, np.zeros((H, N // 2)) if B is None else B, dt)
    gAf = np.zeros_like(Af)
    gBf = None if gdB is None else np.zeros((H, N), np.complex128)
    gdt = np.zeros(H)
    for h in range(H):
        a = 2 / dt[h]
        M = a * np.eye(N) - Af[h]
        X, gX = dA[h], gdA[h]
        if gdB is not None:
            X = np.concatenate([X, dB[h][:, None]], axis=1)
            gX = np.concatenate([gX, gdB[h][:, None]], axis=1)
        gY = np.linalg.solve(_herm(M), gX)  # X = M^{-1} Y
        gM = -gY @ _herm(X)
        gAf[h] = gY[:, :N] - gM
        galpha = np.real(np.trace(gY[:, :N]) + np.trace(gM))
        gdt[h] = -2 / dt[h] ** 2 * galpha
        if gdB is not None:
            gBf[h] = 2 * gY[:, N]
    return gAf, gBf, gdt


def _dense_per_mode_vjp_ref(gdA, gdB, Af, B, dt):
    """Back through :func:`_dense_per_mode_ref`, one channel at a time.

    [dA, dB] = K^{-1} W, K = I - X/2, W = [I + X/2, Δ_f B_f], X = diag(Δ_f) A_f:
    g_W = K^{-H} g, g_K = -g_W [dA, dB]^H, g_X = (g_W[:, :N] - g_K)/2, then
    g_A_f = diag(Δ_f) g_X, g_Δ_f,n = Re Σ_m conj(A_f,nm) g_X,nm (+ Re conj(g_B'_n) B_f,n),
    and the two conjugate halves of Δ_f fold back onto the N/2 stored steps.
    """
    H, N, _ = Af.shape
    dtf = expand(dt).real
    Bf = None if gdB is None else expand(np.reshape(B, (H, -1)))
    gAf = np.zeros_like(Af)
    gBf = None if gdB is None else np.zeros((H, N), np.complex128)
    gdtf = np.zeros((H, N))
    for h in range(H):
        X = dtf[h][:, None] * Af[h]
        K = np.eye(N) - X / 2
        W, g = np.eye(N) + X / 2, gdA[h]
        if gdB is not None:
            W = np.concatenate([W, (dtf[h] * Bf[h])[:, None]], axis=1)
            g = np.concatenate([g, gdB[h][:, None]], axis=1)
        Z = np.linalg.solve(K, W)
        gW = np.linalg.solve(_herm(K), g)
        gK = -gW @ _herm(Z)
        gX = (gW[:, :N] - gK) / 2
        gAf[h] = dtf[h][:, None] * gX
        gdtf[h] = np.real(np.sum(np.conj(Af[h]) * gX, axis=1))
        if gdB is not None:
            gBf[h] = dtf[h] * gW[:, N]
            gdtf[h] += np.real(np.conj(gW[:, N]) * Bf[h])
    return gAf, gBf, gdtf[:, : N // 2] + gdtf[:, N // 2:]


def full_matrix_vjp_ref(gAf, P):
    """(g_A (H, N/2), g_P or None) from the cotangent of A_f = diag(Λ_f) - P_f P_f^H."""
    gA = _unexpand(np.stack([np.diag(g) for g in gAf]))
    if P is None or not np.shape(P)[0]:
        return gA, None
    Pf = expand(P)  # (R, H, N)
    sym = gAf + _herm(gAf)
    gPf = -np.einsum("hmn,rhn->rhm", sym, Pf)
    return gA, _unexpand(gPf)


def dplr_kernel_vjp_ref(dout, A, B, C, P, dt, L, *, rate=1.0, state=None, C_is_tilde=False,
                        l_kernel=None):
    """(dA, dB, dC, dP, ddt, dstate) of :func:`dplr_kernel_ref` by explicit reverse loops.

    ``dout = (dk, dk_state)``, either may be None (zero). Real arguments get real gradients;
    shapes follow the arguments (B (H, N/2) or (1, H, N/2), dt (H,) or (H, 1)).
    """
    dk, dks = dout
    A = np.asarray(A, np.complex128)
    H, N2 = A.shape
    N = 2 * N2
    B_in, C_in, P_in, dt_in, s_in = B, C, P, dt, state
    Bh = np.reshape(np.asarray(B, np.complex128), (H, N2))
    Pn = None if P is None or not np.shape(P)[0] else np.asarray(P, np.complex128)
    dtv = np.reshape(np.asarray(dt, np.float64), (H, N2) if _per_mode(dt, H) else (H,))
    lk, Ld = kernel_lengths(L, rate, l_kernel, C_is_tilde)
    eye = np.eye(N)

    # forward, keeping what the backward needs
    dA0, _ = dplr_dense_ref(A, Pn, np.zeros((H, N2)), dtv)
    chain = []  # (C̃_f before the step, the power it was multiplied by) for each doubling
    if C_is_tilde:
        Ct, l0 = expand(C), l_kernel
        while l0 < lk:
            chain.append((Ct, l0))
            Ct = Ct + np.einsum("chm,hmn->chn", Ct, mpow(dA0, l0))
            l0 *= 2
    else:
        Cf = expand(C)
        Q0 = mpow(dA0, lk)
        Ct = Cf - np.einsum("chm,hmn->chn", Cf, Q0)
    dtr = dtv * rate
    dA, dB = dplr_dense_ref(A, Pn, Bh, dtr)
    X = np.linalg.inv(eye - mpow(dA, Ld))
    Ctp = np.einsum("chm,hmn->chn", Ct, X)
    xs = [dB]
    for _ in range(L - 1):
        xs.append(np.einsum("hmn,hn->hm", dA, xs[-1]))
    gk = np.zeros(Ct.shape[:-1] + (L,)) if dk is None else np.asarray(dk, np.float64)

    # k_l = Re(C̃' x_l), x_l = Ā x_{l-1}, x_0 = B̄: reverse loop with λ_l = g_{x_l} + Ā^H λ_{l+1}
    dAH = _herm(dA)
    gCtp = np.zeros_like(Ctp)
    gdA = np.zeros_like(dA)
    lam = np.zeros((H, N), np.complex128)
    for t in range(L - 1, -1, -1):
        gCtp += gk[..., t, None] * np.conj(xs[t])[None]
        lam = np.einsum("ch,chn->hn", gk[..., t], np.conj(Ctp)) + np.einsum(
            "hmn,hn->hm", dAH, lam)
        if t:
            gdA += np.einsum("hm,hn->hmn", lam, np.conj(xs[t - 1]))
    gdB = lam

    gs = None
    if state is not None:
        s = np.asarray(state, np.complex128)
        s = expand(s) if s.shape[-1] == N2 else s
        ys = [s]  # ys[t + 1] = Ā^{t+1} s
        for _ in range(L):
            ys.append(np.einsum("hmn,bhn->bhm", dA, ys[-1]))
        gks = (np.zeros((s.shape[0],) + gk.shape) if dks is None
               else np.asarray(dks, np.float64))
        mu = np.zeros(s.shape, np.complex128)
        for t in range(L - 1, -1, -1):
            gCtp += np.einsum("bch,bhn->chn", gks[..., t], np.conj(ys[t + 1]))
            mu = np.einsum("bch,chn->bhn", gks[..., t], np.conj(Ctp)) + np.einsum(
                "hmn,bhn->bhm", dAH, mu)
            gdA += np.einsum("bhm,bhn->hmn", mu, np.conj(ys[t]))
        gs = np.einsum("hmn,bhn->bhm", dAH, mu)

    # C̃' = C̃_f X, X = (I - Ā^{L_d})^{-1}
    gCt = np.einsum("chn,hmn->chm", gCtp, np.conj(X))
    gX = np.einsum("chm,chn->hmn", np.conj(Ct), gCtp)
    gdA += mpow_vjp_ref(_herm(X) @ gX @ _herm(X), dA, Ld)
    gAf, gBf, gdt = dense_vjp_ref(gdA, gdB, A, Pn, Bh, dtr)
    gdt = rate * gdt

    # C̃ from C (or the doublings of a given C̃), all at Δ (no rate)
    gdA0 = np.zeros_like(dA0)
    if C_is_tilde:
        for Cj, lj in reversed(chain):  # C̃_{j+1} = C̃_j (I + Ā^{l_j})
            gdA0 += mpow_vjp_ref(np.einsum("chm,chn->hmn", np.conj(Cj), gCt), dA0, lj)
            gCt = gCt + np.einsum("chn,hmn->chm", gCt, np.conj(mpow(dA0, lj)))
        gC = _unexpand(gCt)
    else:
        gdA0 -= mpow_vjp_ref(np.einsum("chm,chn->hmn", np.conj(Cf), gCt), dA0, lk)
        gC = _unexpand(gCt - np.einsum("chn,hmn->chm", gCt, np.conj(Q0)))
    if chain or not C_is_tilde:
        gAf0, _, gdt0 = dense_vjp_ref(gdA0, None, A, Pn, None, dtv)
        gAf, gdt = gAf + gAf0, gdt + gdt0
    gA, gP = full_matrix_vjp_ref(gAf, Pn)

    def like(g, x):
        if x is None:
            return None
        g = np.reshape(g, np.shape(x))
        return g if np.iscomplexobj(x) else np.real(g)

    if P_in is not None and gP is None:
        gP = np.zeros(np.shape(P_in), np.complex128)
    gstate = None
    if state is not None:
        gstate = _unexpand(gs) if np.shape(state)[-1] == N2 else gs
    return (gA, like(_unexpand(gBf), B_in), like(gC, C_in), like(gP, P_in),
            like(gdt, dt_in), like(gstate, s_in))


# ---- canonical functions (what SPEC.get("reference", ...) returns) ------------------------------
# NumPy-only (the dispatch refuses the reference elsewhere): plain np.asarray, no test kit. The
# arrays arrive prepared (B (H, N/2), dt (H, 1)); the results go back in the compute dtype.


def _host(a):
    return None if a is None else np.asarray(a)


def kernel(xp, A, B, C, P, dt, state, L, *, rate, C_is_tilde, l_kernel, ops=None, guard=True):
    k, ks = dplr_kernel_ref(*(_host(a) for a in (A, B, C, P, dt)), L, rate=rate,
                            state=_host(state), C_is_tilde=C_is_tilde, l_kernel=l_kernel)
    rdt = np.float32 if A.dtype == np.complex64 else np.float64
    return xp.asarray(k, dtype=rdt), None if ks is None else xp.asarray(ks, dtype=rdt)


def kernel_vjp(xp, gk, A, B, C, P, dt, state, L, *, rate, C_is_tilde, l_kernel, ops=None,
               guard=True):
    g = np.asarray(gk)
    nbs = g.shape[0] - 1
    grads = dplr_kernel_vjp_ref(
        (g[nbs], g[:nbs] if nbs else None), *(_host(a) for a in (A, B, C, P, dt)), L,
        rate=rate, state=_host(state), C_is_tilde=C_is_tilde, l_kernel=l_kernel)
    return tuple(None if a is None else xp.asarray(a) for a in grads)
