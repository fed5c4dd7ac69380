"""Array-API S4D discretization and the chain rule of the kernel VJP.

The kernel is two log-Vandermonde products, so its VJP is theirs followed by elementwise chain
rules on (H, N/2) arrays: there is no strategy to choose beyond what the log_vandermonde family
already does. Its implementation comes in already resolved (the ``lv`` functions, from the
log_vandermonde SPEC); nothing here calls a public function or sees an ``impl`` string.

zoh: x = z = dt A, B̄ = dt phi1(z) B with phi1(z) = expm1(z)/z evaluated without cancellation
(``discretize._generic.exp_phi1``), and dB̄/dA = dt^2 phi1'(z) B by the series/closed form of
``dphi1``. bilinear: x = log((1 + z/2)/(1 - z/2)), dx/dz = 1/(1 - z^2/4), B̄ = dt r B with
r = 1/(1 - z/2), dr/dz = r^2/2. Gradients follow PyTorch's convention: for holomorphic y(w),
g_w = g_y conj(dy/dw); dt is real so it takes the real part.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from .._shared.grouping import Grouping
from .._shared.numerics import dphi1, exp_phi1


class LV(NamedTuple):
    """The resolved log_vandermonde implementation (its canonical functions)."""

    forward: Callable
    backward: Callable
    transpose: Callable
    transpose_backward: Callable


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


def _vand(xp, fn, v, x, L):
    """log_vandermonde's canonical ``fn`` on v (..., N/2) against x (H, N/2) shared per head."""
    grp = Grouping(tuple(v.shape[:-1]), tuple(x.shape[:-1]))
    N2 = v.shape[-1]
    return grp, grp.rows(xp, v, N2), grp.shared(xp, x, N2), fn


def _lv_forward(xp, lv, v, x, L):
    grp, vr, xr, fn = _vand(xp, lv.forward, v, x, L)
    return grp.unrows(xp, fn(xp, vr, xr, L))


def _lv_backward(xp, lv, g, v, x, L):
    grp, vr, xr, fn = _vand(xp, lv.backward, v, x, L)
    dv, dx = fn(xp, grp.rows(xp, g, L), vr, xr, L)
    return grp.unrows(xp, dv), xp.reshape(dx, tuple(x.shape))


def kernel(xp, A, B, C, dt, state, L, *, disc, lv):
    """(k (ch, H, L), k_state (batch, ch, H, L) or None): Vand(C B̄, x) and Vand(C Ā s, x)."""
    x, dB = discretize(xp, A, B, dt, disc)
    k = _lv_forward(xp, lv, C * dB, x, L)
    k_state = None
    if state is not None:
        k_state = _lv_forward(xp, lv, C[None, ...] * (state * xp.exp(x))[:, None, ...], x, L)
    return k, k_state


def step_setup(xp, A, B, C, dt, *, disc):
    """(Ā, B̄, C) per mode, (H, N/2) and (ch, H, N/2)."""
    x, dB = discretize(xp, A, B, dt, disc)
    return xp.exp(x), xp.broadcast_to(dB, tuple(A.shape)), C


def step(xp, u, state, dA, dB, dC):
    """x' = Ā x + B̄ u, y = 2 Re(C x'); one complex dtype, u real (batch, H)."""
    new = dA * state + dB * xp.astype(u, state.dtype)[..., None]
    return 2 * xp.real(xp.sum(dC[None, ...] * new[:, None, ...], axis=-1)), new


def _log_abar(xp, dA):
    """log Ā, with an Ā that underflowed to 0 (dt·|Re A| huge) mapped to log(tiny): e^{x l} is
    then 1 at l = 0 and 0 (or below tiny) after, which is the recurrence x' = 0·x + B̄ u."""
    rdt = xp.real(dA).dtype
    tiny = xp.asarray(math.log(xp.finfo(rdt).smallest_normal), dtype=dA.dtype)
    return xp.where(dA == 0, tiny, xp.log(xp.where(dA == 0, xp.ones_like(dA), dA)))


def forward_state(xp, u, state, dA, dB, *, lv):
    """x_L = Ā^L x + VandT(flip(u), B̄, log Ā): u (batch, H, L), dA, dB (H, N/2)."""
    L = u.shape[-1]
    logA = _log_abar(xp, dA)
    grp = Grouping((u.shape[0],) + tuple(dA.shape[:-1]), tuple(dA.shape[:-1]))
    N2 = dA.shape[-1]
    s = grp.unrows(xp, lv.transpose(xp, grp.rows(xp, xp.flip(u, axis=-1), L),
                                    grp.rows(xp, dB, N2), grp.shared(xp, logA, N2), L))
    if state is None:
        return s
    return xp.exp(L * logA) * state + s


def forward_state_vjp(xp, g, u, state, dA, dB, *, lv):
    """(du, dstate or None, gĀ, gB̄) for the cotangent g (batch, H, N/2), one complex dtype.

    With f = flip(u), the new state is x_L = Ā^L s + B̄ sum_m f_m Ā^m, so
    dx_L/dĀ = L Ā^{L-1} s + B̄ sum_{j<L-1} (j+1) f_{j+1} Ā^j: a transposed Vandermonde of the
    shifted, weighted input of length L-1. Evaluated as such, nothing is divided by Ā (the chain
    rule through log Ā would need dx/dĀ = 1/Ā), so an Ā that underflowed to 0 gets the exact
    gradient g conj(B̄ u_{L-2}) (+ g conj(s) when L = 1).
    """
    L = u.shape[-1]
    logA = _log_abar(xp, dA)
    grp = Grouping((u.shape[0],) + tuple(dA.shape[:-1]), tuple(dA.shape[:-1]))
    N2 = dA.shape[-1]
    f = xp.flip(u, axis=-1)
    Br, xr = grp.rows(xp, dB, N2), grp.shared(xp, logA, N2)
    gr = grp.rows(xp, g, N2)
    duf, gB, _ = lv.transpose_backward(xp, gr, grp.rows(xp, f, L), Br, xr, L)
    du = xp.flip(xp.real(grp.unrows(xp, duf)), axis=-1)
    gB = xp.sum(grp.unrows(xp, gB), axis=0)
    gA = xp.zeros(tuple(dA.shape), dtype=dA.dtype)
    if L > 1:
        w = f[..., 1:] * xp.arange(1, L, dtype=u.dtype)
        dxdA = grp.unrows(xp, lv.transpose(xp, grp.rows(xp, w, L - 1), Br, xr, L - 1))
        gA = xp.sum(g * xp.conj(dxdA), axis=0)
    ds = None
    if state is not None:
        ds = g * xp.conj(xp.exp(L * logA))
        gA = gA + xp.sum(g * xp.conj(L * xp.exp((L - 1) * logA) * state), axis=0)
    return du, ds, gA, gB


def kernel_vjp(xp, A, B, C, dt, state, L, dk, dks, *, disc, lv):
    """(gA, gB, gC, gdt, gstate) at the prepared shapes: A, B (H, N2), C (ch, H, N2), dt (H, 1 or
    N2), state (batch, H, N2) or None; dk (ch, H, L) and dks (batch, ch, H, L) real or None."""
    x, dB = discretize(xp, A, B, dt, disc)
    gx = xp.zeros_like(x)
    gdB = xp.zeros_like(x)
    gC = xp.zeros_like(C)
    gstate = None if state is None else xp.zeros_like(state)
    if dk is not None:
        dk = xp.broadcast_to(dk, tuple(C.shape[:-1]) + (L,))
        gv, gx1 = _lv_backward(xp, lv, dk, C * dB, x, L)
        gC = gC + gv * xp.conj(dB)
        gdB = gdB + xp.sum(gv * xp.conj(C), axis=0)
        gx = gx + gx1
    if state is not None and dks is not None:
        # k_state = Vand(C w, x) with w = state e^x = Ā state.
        e = xp.exp(x)
        w = state * e
        v2 = C[None, ...] * w[:, None, ...]
        gv, gx2 = _lv_backward(xp, lv, xp.broadcast_to(dks, tuple(v2.shape[:-1]) + (L,)), v2, x, L)
        gC = gC + xp.sum(gv * xp.conj(w[:, None, ...]), axis=0)
        gw = xp.sum(gv * xp.conj(C[None, ...]), axis=1)
        gstate = gw * xp.conj(e)
        gx = gx + gx2 + xp.sum(gw * xp.conj(w), axis=0)
    gA, gB, gdt = discretize_vjp(xp, A, B, dt, disc, gx, gdB)
    return gA, gB, gC, gdt, gstate
