"""Array-API dense algebra of the DPLR system on the conj-expanded basis (spec §3.11).

Shared by the kernel (the C̃ chain), the C̃ utilities and the step set-ups: A_f = diag(Λ_f) -
P_f P_f^H, its bilinear discretisation by linear solves, rows times matrices, and the VJPs of
those. Matrix powers come from the power family's resolved implementation (``matrix_power``
argument), never from the public ``power``.
"""

from __future__ import annotations


def expand(xp, x):
    return xp.concat([x, xp.conj(x)], axis=-1)


def _eye(xp, N, dtype):
    return xp.eye(N, dtype=dtype)


def full_dt(xp, dt):
    """dt on the conj-expanded basis: (H, 1) per channel as it is, (H, N/2) per mode -> (H, N).

    One step per mode Δ_n scales the rows of the continuous matrix: the discretised system is
    diag(Δ_f) A_f = diag(Δ_f Λ_f) - (Δ_f P_f) P_f^H, still diagonal plus low rank (left factor
    Δ_f P_f, right factor P_f) with input Δ_f B_f; its bilinear transform is the formula below
    with α = 2/Δ a diagonal matrix instead of a scalar.
    """
    return dt if dt.shape[-1] == 1 else xp.concat([dt, dt], axis=-1)


def reduce_full_to_dt(xp, g, dt):
    """Cotangent of dt from a real one g (..., H, N) of its full-basis broadcast ``full_dt``."""
    if dt.shape[-1] == 1:
        return xp.sum(g, axis=-1, keepdims=True)
    N2 = g.shape[-1] // 2
    return g[..., :N2] + g[..., N2:]


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
    """Bilinear discretisation in the full basis: dA (H, N, N), dB (H, N).

    dt: (H, 1) or, one step per mode, (H, N/2) real; then 2/Δ is the diagonal matrix
    diag(2/Δ_f) (row scaling), which is the unit-step bilinear transform of diag(Δ_f) A_f with
    input Δ_f B_f (see :func:`full_dt`).
    """
    Af = full_matrix(xp, A, P)
    N = Af.shape[-1]
    I = _eye(xp, N, Af.dtype)
    two = xp.astype(2.0 / full_dt(xp, dt), Af.dtype)[..., None]  # (H, 1 or N, 1)
    M = two * I - Af
    dA = xp.linalg.solve(M, two * I + Af)
    dB = xp.linalg.solve(M, 2 * expand(xp, B)[..., None])[..., 0]
    return dA, dB


def row_times(xp, Cf, M):
    """Rows C_f (ch, H, N) times matrices M (H, N, N)."""
    return xp.matmul(Cf[..., None, :], M)[..., 0, :]


def c_tilde(xp, A, C, P, dt, L, *, matrix_power):
    """C̃ = C (I - Ā^L), truncated to the half basis."""
    dA, _ = dense(xp, A, P, xp.zeros(A.shape, dtype=A.dtype), dt)
    Cf = expand(xp, C)
    return (Cf - row_times(xp, Cf, matrix_power(xp, dA, L)))[..., : A.shape[-1]]


def c_from_tilde(xp, Ct, A, P, dt, L, *, matrix_power):
    """C = C̃ (I - Ā^L)^{-1}: a solve with the transposed matrix, rows as right-hand sides."""
    dA, _ = dense(xp, A, P, xp.zeros(A.shape, dtype=A.dtype), dt)
    N = dA.shape[-1]
    M = _eye(xp, N, dA.dtype) - matrix_power(xp, dA, L)
    rhs = xp.permute_dims(expand(xp, Ct), (1, 2, 0))  # (H, N, ch)
    C = xp.linalg.solve(xp.permute_dims(M, (0, 2, 1)), rhs)
    return xp.permute_dims(C, (2, 0, 1))[..., : A.shape[-1]]


def double_length(xp, Ct, A, P, dt, l_kernel, *, matrix_power):
    """C̃ (I + Ā^{l}) = C (I - Ā^{2l}) for C̃ = C (I - Ā^{l})."""
    dA, _ = dense(xp, A, P, xp.zeros(A.shape, dtype=A.dtype), dt)
    Cf = expand(xp, Ct)
    return (Cf + row_times(xp, Cf, matrix_power(xp, dA, l_kernel)))[..., : A.shape[-1]]



# ---- VJPs ------------------------------------------------------------------------------------
#
# PyTorch's complex convention: a real loss ℓ has g_z = ∂ℓ/∂Re z + i ∂ℓ/∂Im z, so for y = M x,
# g_M = g_y x^H and g_x = M^H g_y; for X = M^{-1} Y, g_Y = M^{-H} g_X and g_M = -g_Y X^H; a
# real parameter t with u = t a gets Re Σ conj(g_u) a.


def herm(xp, M):
    return xp.conj(xp.matrix_transpose(M))


def unexpand(xp, g):
    """Cotangent of x from that of x_f = [x, x̄]."""
    N2 = g.shape[-1] // 2
    return g[..., :N2] + xp.conj(g[..., N2:])


def pad_full(xp, g):
    """Cotangent of x_f from that of its truncation x_f[..., :N/2]."""
    return xp.concat([g, xp.zeros_like(g)], axis=-1)


def dense_vjp(xp, gdA, gdB, A, P, B, dt):
    """Back through :func:`dense`: X = M^{-1} Y, M = αI - A_f, Y = [αI + A_f, 2B_f], α = 2/Δ.

    Returns (g_A (H, N/2), g_P or None, g_B (H, N/2) or None, g_dt real, shaped like dt).
    With one step per mode α is diag(2/Δ_f) and g_α its diagonal of Re(g_Y1 + g_M).
    """
    Af = full_matrix(xp, A, P)
    N = Af.shape[-1]
    I = _eye(xp, N, Af.dtype)
    alpha = xp.astype(2.0 / full_dt(xp, dt), Af.dtype)[..., None]  # (H, 1 or N, 1)
    M = alpha * I - Af
    Y, gX = alpha * I + Af, gdA
    if gdB is not None:
        Y = xp.concat([Y, 2 * expand(xp, B)[..., None]], axis=-1)
        gX = xp.concat([gX, gdB[..., None]], axis=-1)
    X = xp.linalg.solve(M, Y)
    gY = xp.linalg.solve(herm(xp, M), gX)
    gM = -xp.matmul(gY, herm(xp, X))
    gY1 = gY[..., :N]
    gAf = gY1 - gM
    if dt.shape[-1] == 1:
        galpha = xp.sum(xp.real((gY1 + gM) * I), axis=(-2, -1))  # Re tr(g_Y1) + Re tr(g_M)
        gdt = -2.0 / dt**2 * galpha[:, None]
    else:  # per mode: the diagonal, folded back onto the N/2 stored modes
        galpha = xp.sum(xp.real((gY1 + gM) * I), axis=-1)  # (H, N)
        gdt = -2.0 / dt**2 * reduce_full_to_dt(xp, galpha, dt)
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
    gPm = -xp.matmul(gAf + herm(xp, gAf), Pm)
    return gA, unexpand(xp, xp.permute_dims(gPm, (2, 0, 1)))


def rows_times_vjp(xp, g, C, M):
    """For Y = C_f M (rows C_f (ch, H, N), M (H, N, N)): (g_C_f, g_M) from g_Y."""
    gC = xp.matmul(g[..., None, :], herm(xp, M))[..., 0, :]
    gM = xp.matmul(herm(xp, xp.permute_dims(C, (1, 0, 2))), xp.permute_dims(g, (1, 0, 2)))
    return gC, gM


