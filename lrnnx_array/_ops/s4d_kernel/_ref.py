"""NumPy float64 oracle for the S4D kernel: discretise each mode, then plain powers.

k_l = 2 Re sum_n C_n B̄_n Ā_n^l and k_state_l = 2 Re sum_n C_n Ā_n^{l+1} s_n (the state is the one
before step 0), with Ā, B̄ from zoh or bilinear (spec §2). A loop over l, no exp(x l).
"""

from __future__ import annotations

import numpy as np

from .._shared.grads import sum_to
from ..discretization._ref import _dphi1, _phi1


def discretize_ref(A, B, dt, disc):
    A = np.asarray(A, np.complex128)
    B = np.asarray(B, np.complex128)
    dt = np.asarray(dt, np.float64)
    dtA = dt * A
    if disc == "zoh":
        # (e^{ΔA} - 1)/A = Δ φ₁(ΔA), evaluated without cancellation at small |ΔA|.
        return np.exp(dtA), dt * _phi1(dtA) * B
    return (1 + dtA / 2) / (1 - dtA / 2), dt / (1 - dtA / 2) * B


def _disc2(A, B, dt, disc):
    H = np.shape(A)[0]
    return discretize_ref(A, np.reshape(B, np.shape(B)[-2:]), np.reshape(dt, (H, -1)), disc)


def s4d_kernel_ref(A, B, C, dt, L, *, disc="zoh", state=None):
    """A, B (H, N2), C (channels, H, N2), dt broadcast to (H, N2) -> (k, k_state)."""
    dA, dB = _disc2(A, B, dt, disc)
    C = np.asarray(C, np.complex128)
    k = np.zeros(C.shape[:-1] + (L,))
    p = np.ones_like(dA)
    ks = None
    if state is not None:
        s = np.asarray(state, np.complex128)
        ks = np.zeros((s.shape[0],) + C.shape[:-1] + (L,))
    for t in range(L):
        k[..., t] = 2 * np.real(np.sum(C * dB * p, axis=-1))
        p = p * dA
        if ks is not None:
            ks[..., t] = 2 * np.real(np.sum(C[None] * (p * s)[:, None], axis=-1))
    return k, ks


def s4d_recurrence_ref(u, A, B, C, dt, *, disc="zoh", state=None):
    """Step the modes through u (batch, H, L): y (batch, channels, H, L), last state."""
    dA, dB = _disc2(A, B, dt, disc)
    u = np.asarray(u, np.float64)
    C = np.asarray(C, np.complex128)
    x = np.zeros(u.shape[:2] + dA.shape[-1:], np.complex128)
    if state is not None:
        x = np.array(state, np.complex128)
    y = np.zeros((u.shape[0],) + C.shape[:-1] + (u.shape[-1],))
    for t in range(u.shape[-1]):
        x = dA * x + dB * u[..., t, None]
        y[..., t] = 2 * np.real(np.sum(C[None] * x[:, None], axis=-1))
    return y, x


# ---- VJPs: explicit reverse loops over l, through Ā itself (not log Ā as the fast path) -------


def discretize_partials_ref(A, dt, disc):
    """(Ā, q, dĀ/dA, dĀ/ddt, dq/dA, dq/ddt) with B̄ = q B, all (H, N2) complex (holomorphic)."""
    A = np.asarray(A, np.complex128)
    dt = np.asarray(dt, np.float64)
    z = dt * A
    if disc == "zoh":
        E = np.exp(z)
        # q = (e^z - 1)/A = dt phi1(z): dq/dA = dt^2 phi1'(z), dq/ddt = e^z.
        return E, dt * _phi1(z), dt * E, A * E, dt * dt * _dphi1(z), E
    r = 1 / (1 - z / 2)
    return (1 + z / 2) * r, dt * r, dt * r * r, A * r * r, dt * dt * r * r / 2, r * r


def s4d_kernel_vjp_ref(dout, A, B, C, dt, L, *, disc="zoh", state=None):
    """(dA, dB, dC, ddt, dstate) of s4d_kernel_ref; shapes (and real kinds) of the inputs.

    With p_t = Ā^t, w_t = C B̄ p_t and k_t = 2 Re sum_n w_t: the adjoint lam of p_{t+1} collects
    2 g conj(C B̄) (from k_{t+1}), 2 gs conj(C s) (from ks_t), and conj(Ā) lam from p_{t+2}; each
    p_{t+1} = p_t Ā adds lam conj(p_t) to dĀ. Then the chain rule through (Ā, B̄ = q B)(A, dt).
    """
    dk, dks = dout
    H, N2 = np.shape(A)
    dA_, q, dAbar_A, dAbar_dt, dq_A, dq_dt = discretize_partials_ref(
        A, np.reshape(dt, (H, -1)), disc)
    Bv = np.asarray(np.reshape(B, (H, N2)), np.complex128)
    C_ = np.asarray(C, np.complex128)
    dB_ = q * Bv
    g = np.zeros(C_.shape[:-1] + (L,)) if dk is None else np.broadcast_to(dk, C_.shape[:-1] + (L,))
    s = None if state is None else np.asarray(state, np.complex128)
    gs = None
    if s is not None:
        gs = np.zeros((s.shape[0],) + C_.shape[:-1] + (L,)) if dks is None else \
            np.broadcast_to(dks, (s.shape[0],) + C_.shape[:-1] + (L,))
    p = [np.ones_like(dA_)]
    for _ in range(L):
        p.append(p[-1] * dA_)
    gAbar = np.zeros_like(dA_)
    gC = np.zeros_like(C_)
    gdB = np.zeros_like(dA_)
    gst = None if s is None else np.zeros_like(s)
    lam = np.zeros_like(dA_)  # adjoint of p_{t+1}
    for t in range(L - 1, -1, -1):
        if s is not None:
            gt = 2 * gs[..., t, None]  # (batch, ch, H, 1)
            lam = lam + np.sum(gt * np.conj(C_[None] * s[:, None]), axis=(0, 1))
            gC = gC + np.sum(gt * np.conj(p[t + 1] * s[:, None]), axis=0)
            gst = gst + np.sum(gt * np.conj(C_[None] * p[t + 1]), axis=1)
        gAbar = gAbar + lam * np.conj(p[t])
        gk = 2 * g[..., t, None]  # (ch, H, 1)
        lam = np.conj(dA_) * lam + np.sum(gk * np.conj(C_ * dB_), axis=0)
        gC = gC + gk * np.conj(dB_ * p[t])
        gdB = gdB + np.sum(gk * np.conj(C_ * p[t]), axis=0)
    gq = gdB * np.conj(Bv)
    gA = gAbar * np.conj(dAbar_A) + gq * np.conj(dq_A)
    gdt = np.real(gAbar * np.conj(dAbar_dt) + gq * np.conj(dq_dt))
    gdt = np.reshape(sum_to(np, gdt, np.reshape(dt, (H, -1)).shape), np.shape(dt))
    gB = np.reshape(gdB * np.conj(q), np.shape(B))
    out = [gA, gB, gC, gdt, gst]
    for i, x in ((1, B), (2, C), (4, state)):
        if out[i] is not None and not np.iscomplexobj(x):
            out[i] = out[i].real
    return tuple(out)


def s4d_forward_state_ref(u, state, dA, dB):
    """x_{t+1} = Ā x_t + B̄ u_t over u (batch, H, L) from ``state`` (zero if None)."""
    u = np.asarray(u, np.float64)
    dA, dB = np.asarray(dA, np.complex128), np.asarray(dB, np.complex128)
    x = np.zeros(u.shape[:2] + dA.shape[-1:], np.complex128)
    if state is not None:
        x = x + np.asarray(state, np.complex128)
    for t in range(u.shape[-1]):
        x = dA * x + dB * u[..., t, None]
    return x


def s4d_forward_state_vjp_ref(dout, u, state, dA, dB):
    """(du, dstate, ddA, ddB) of s4d_forward_state_ref by the reverse loop of the recurrence:
    lam_L = dout; d u_t = Re sum_n conj(B̄) lam_{t+1}; dĀ += lam_{t+1} conj(x_t);
    dB̄ += lam_{t+1} u_t; lam_t = conj(Ā) lam_{t+1}; dstate = lam_0."""
    u = np.asarray(u, np.float64)
    dA, dB = np.asarray(dA, np.complex128), np.asarray(dB, np.complex128)
    x = [np.zeros(u.shape[:2] + dA.shape[-1:], np.complex128)]
    if state is not None:
        x[0] = x[0] + np.asarray(state, np.complex128)
    for t in range(u.shape[-1]):
        x.append(dA * x[-1] + dB * u[..., t, None])
    lam = np.broadcast_to(np.asarray(dout, np.complex128), x[0].shape)
    du = np.zeros(u.shape)
    gA = np.zeros_like(dA)
    gB = np.zeros_like(dB)
    for t in range(u.shape[-1] - 1, -1, -1):
        du[..., t] = np.real(np.sum(np.conj(dB) * lam, axis=-1))
        gA = gA + np.sum(lam * np.conj(x[t]), axis=0)
        gB = gB + np.sum(lam * u[..., t, None], axis=0)
        lam = np.conj(dA) * lam
    dstate = None
    if state is not None:
        dstate = lam if np.iscomplexobj(state) else lam.real
    return du, dstate, gA, gB


# ---- canonical functions (what SPEC.get("reference", ...) returns) ------------------------------
# NumPy-only (the dispatch refuses the reference elsewhere): plain np.asarray, no test kit. The
# arrays arrive prepared (B (H, N/2), dt (H, 1) or (H, N/2)) in the compute dtype.


def _h(a):
    return None if a is None else np.asarray(a)


def _rdt(cdt):
    return np.float32 if cdt == np.complex64 else np.float64


def kernel(xp, A, B, C, dt, state, L, *, disc, lv=None):
    k, ks = s4d_kernel_ref(_h(A), _h(B), _h(C), _h(dt), L, disc=disc, state=_h(state))
    rdt = _rdt(A.dtype)
    return xp.asarray(k, dtype=rdt), None if ks is None else xp.asarray(ks, dtype=rdt)


def kernel_vjp(xp, A, B, C, dt, state, L, dk, dks, *, disc, lv=None):
    g = s4d_kernel_vjp_ref((_h(dk), _h(dks)), _h(A), _h(B), _h(C), _h(dt), L, disc=disc,
                           state=_h(state))
    return tuple(None if a is None else xp.asarray(a) for a in g)


def forward_state(xp, u, state, dA, dB, *, lv=None):
    return xp.asarray(s4d_forward_state_ref(_h(u), _h(state), _h(dA), _h(dB)), dtype=dA.dtype)


def forward_state_vjp(xp, g, u, state, dA, dB, *, lv=None):
    out = s4d_forward_state_vjp_ref(_h(g), _h(u), _h(state), _h(dA), _h(dB))
    return tuple(None if a is None else xp.asarray(a) for a in out)
