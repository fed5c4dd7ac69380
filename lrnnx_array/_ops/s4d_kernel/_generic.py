"""Array-API S4D discretization and the chain rule of the kernel VJP.

The kernel is two log-Vandermonde products (``log_vandermonde``), so its VJP is theirs
(``log_vandermonde_vjp``) followed by elementwise chain rules on (H, N/2) arrays: there is no
strategy to choose beyond what ``vandermonde`` already does.

zoh: x = z = dt A, B̄ = dt phi1(z) B with phi1(z) = expm1(z)/z evaluated without cancellation
(``discretize._generic.exp_phi1``), and dB̄/dA = dt^2 phi1'(z) B by the series/closed form of
``dphi1``. bilinear: x = log((1 + z/2)/(1 - z/2)), dx/dz = 1/(1 - z^2/4), B̄ = dt r B with
r = 1/(1 - z/2), dr/dz = r^2/2. Gradients follow PyTorch's convention: for holomorphic y(w),
g_w = g_y conj(dy/dw); dt is real so it takes the real part.
"""

from __future__ import annotations

from .._shared.numerics import dphi1, exp_phi1
from ..log_vandermonde import log_vandermonde_vjp


def discretize(xp, A, B, dt, disc):
    """(x = log Ā, B̄) per mode; A, B (H, N/2) complex, dt (H, 1) or (H, N/2) real."""
    z = dt * A
    if disc == "zoh":
        _, phi, _ = exp_phi1(xp, z)
        return z, dt * phi * B
    half = z / 2
    return xp.log((1 + half) / (1 - half)), dt / (1 - half) * B


def discretize_vjp(xp, A, B, dt, disc, gx, gdB):
    """(gA, gB, gdt) from the cotangents of x = log Ā and B̄; gdt at (H, N/2), real."""
    z = dt * A
    if disc == "zoh":
        E, phi, zs = exp_phi1(xp, z)
        q, dq_dA, dq_ddt = dt * phi, dt * dt * dphi1(xp, zs, E, phi), E
        gz = gx
    else:
        r = 1 / (1 - z / 2)
        q, dq_dA, dq_ddt = dt * r, dt * dt * r * r / 2, r * r
        gz = gx * xp.conj(1 / (1 - z * z / 4))
    gq = gdB * xp.conj(B)
    gA = gz * dt + gq * xp.conj(dq_dA)
    gdt = xp.real(gz * xp.conj(A) + gq * xp.conj(dq_ddt))
    return gA, gdB * xp.conj(q), gdt


def kernel_vjp(xp, A, B, C, dt, L, disc, state, dk, dks, impl):
    """(gA, gB, gC, gdt, gstate) at the prepared shapes: A, B (H, N2), C (ch, H, N2), dt (H, 1 or
    N2), state (batch, H, N2) or None; dk (ch, H, L) and dks (batch, ch, H, L) real or None."""
    x, dB = discretize(xp, A, B, dt, disc)
    gx = xp.zeros_like(x)
    gdB = xp.zeros_like(x)
    gC = xp.zeros_like(C)
    gstate = None if state is None else xp.zeros_like(state)
    if dk is not None:
        gv, gx1 = log_vandermonde_vjp(dk, C * dB, x, L, impl=impl)
        gC = gC + gv * xp.conj(dB)
        gdB = gdB + xp.sum(gv * xp.conj(C), axis=0)
        gx = gx + gx1
    if state is not None and dks is not None:
        # k_state = Vand(C w, x) with w = state e^x = Ā state.
        e = xp.exp(x)
        w = state * e
        gv, gx2 = log_vandermonde_vjp(dks, C[None, ...] * w[:, None, ...], x, L, impl=impl)
        gC = gC + xp.sum(gv * xp.conj(w[:, None, ...]), axis=0)
        gw = xp.sum(gv * xp.conj(C[None, ...]), axis=1)
        gstate = gw * xp.conj(e)
        gx = gx + gx2 + xp.sum(gw * xp.conj(w), axis=0)
    gA, gB, gdt = discretize_vjp(xp, A, B, dt, disc, gx, gdB)
    return gA, gB, gC, gdt, gstate
