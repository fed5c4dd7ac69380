"""NumPy complex128 oracle for the S5 scan: a plain loop over time, and an explicit reverse loop
for its VJP (PyTorch's complex convention: the gradient of a complex z is dl/dRe z + i dl/dIm z).
"""

from __future__ import annotations

import numpy as np

from .._shared.grads import sum_to
from .._shared.s5_shapes import DISCRETIZATIONS, steps3
from ..discretization._ref import _terms

# The discretization comes from the discretizations' own float64 oracle (a 30-term series for
# (e^x - 1)/x and its derivative near 0, plain closed forms elsewhere), never from the numerics
# layer that the implementations use.


def _c(x):
    return None if x is None else np.asarray(x, dtype=np.complex128)


def _r(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def _check_disc(disc):
    if disc not in DISCRETIZATIONS:
        raise ValueError(f"discretization must be one of {DISCRETIZATIONS}, got {disc!r}")


def discretize_ref(disc, A, dt, dtA):
    """(Abar, gbar) for complex A and real steps dt (input term) and dtA (A's step)."""
    _check_disc(disc)
    A = np.asarray(A, np.complex128)
    Ab = _terms(disc, A, np.asarray(dtA, np.float64), None)[0]
    gb = _terms(disc, A, np.asarray(dt, np.float64), None)[1]
    shape = np.broadcast_shapes(np.shape(Ab), np.shape(dt), np.shape(A))
    return np.broadcast_to(Ab, shape), np.broadcast_to(gb, shape) + 0j


def _derivs_ref(disc, A, dt, dtA):
    """dAbar/dA, dAbar/ddtA, dgbar/dA, dgbar/ddt (holomorphic derivatives)."""
    _check_disc(disc)
    _, _, pa, _ = _terms(disc, A, dtA, None)
    _, _, _, pg = _terms(disc, A, dt, None)
    shape = np.broadcast_shapes(np.shape(A), np.shape(dt), np.shape(dtA))
    return tuple(np.broadcast_to(np.asarray(d, np.complex128), shape)
                 for d in (pa[0], pa[1], pg[0], pg[1]))


def _setup(u, delta, A, B, C, deltaA, h0):
    u, A, B, C, h0 = _c(u), _c(A).reshape(-1), _c(B), _c(C), _c(h0)
    Bsz, H, L = u.shape
    P = A.shape[0]
    d3 = steps3(np, _r(delta), "delta", Bsz, P, L)
    dA3 = None if deltaA is None else steps3(np, _r(deltaA), "deltaA", Bsz, P, L)
    full = (Bsz, P, L)
    dt = np.broadcast_to(d3, full)
    dtA = dt if dA3 is None else np.broadcast_to(dA3, full)
    h0 = np.zeros((Bsz, P), np.complex128) if h0 is None else np.broadcast_to(h0, (Bsz, P))
    return u, A, B, C, d3, dA3, dt, dtA, h0


def _scan(Ab, v, h0):
    x = np.zeros(v.shape, np.complex128)
    s = h0
    for t in range(v.shape[-1]):
        s = Ab[..., t] * s + v[..., t]
        x[..., t] = s
    return x


def simplified_scan_ref(u, delta, A, B, C, deltaA=None, return_last_state=False,
                        discretization="bilinear", *, h0=None):
    """y (B,H,L) complex = C x with x_t = Abar_t x_{t-1} + gbar_t (B u_t); complex128."""
    u, A, B, C, _, _, dt, dtA, h0 = _setup(u, delta, A, B, C, deltaA, h0)
    Ab, gb = discretize_ref(discretization, A[None, :, None], dt, dtA)
    Bu = np.einsum("ph,bhl->bpl", B, u)
    x = _scan(Ab, gb * Bu, h0)
    y = np.einsum("hp,bpl->bhl", C, x)
    return (y, x[..., -1].copy()) if return_last_state else y


def _sum_to(g, shape):
    return sum_to(np, g, shape)


def _like(g, x):
    """Gradient shaped and typed like the primal ``x`` (real part for real primals)."""
    if g is None or x is None:
        return None
    g = g.reshape(np.shape(x))
    return g if np.iscomplexobj(x) else g.real.copy()


def simplified_scan_vjp_ref(dout, u, delta, A, B, C, deltaA=None, return_last_state=False,
                            discretization="bilinear", *, h0=None, dlast_state=None):
    """(du, ddelta, dA, dB, dC, ddeltaA, dh0) by an explicit reverse loop over time.

    ``dout`` is the cotangent of y; ``dlast_state`` that of the last state.
    """
    prim = (u, delta, A, B, C, deltaA, h0)
    u_, A_, B_, C_, d3, dA3, dt, dtA, h0_ = _setup(u, delta, A, B, C, deltaA, h0)
    A3 = A_[None, :, None]
    Ab, gb = discretize_ref(discretization, A3, dt, dtA)
    Bu = np.einsum("ph,bhl->bpl", B_, u_)
    x = _scan(Ab, gb * Bu, h0_)
    g = _c(dout)
    dx = np.einsum("hp,bhl->bpl", np.conj(C_), g)
    dC = np.einsum("bhl,bpl->hp", g, np.conj(x))
    L = x.shape[-1]
    lam = np.zeros(x.shape[:-1], np.complex128)
    dAb = np.zeros(x.shape, np.complex128)
    dgb = np.zeros(x.shape, np.complex128)
    for t in range(L - 1, -1, -1):
        carry = (0 if dlast_state is None else _c(dlast_state)) if t == L - 1 else (
            np.conj(Ab[..., t + 1]) * lam)
        lam = dx[..., t] + carry
        x_prev = x[..., t - 1] if t > 0 else h0_
        dAb[..., t] = lam * np.conj(x_prev)
        dgb[..., t] = lam * np.conj(Bu[..., t])
        dx[..., t] = lam  # reuse the buffer: it now holds lambda
    lam_all = dx
    dh0 = np.conj(Ab[..., 0]) * lam_all[..., 0]
    dBu = np.conj(gb) * lam_all
    du = np.einsum("ph,bpl->bhl", np.conj(B_), dBu)
    dB = np.einsum("bpl,bhl->ph", dBu, np.conj(u_))
    fA_A, fA_t, fg_A, fg_t = _derivs_ref(discretization, A3, dt, dtA)
    dA = (np.conj(fA_A) * dAb + np.conj(fg_A) * dgb).sum(axis=(0, 2))
    r_a = np.real(np.conj(fA_t) * dAb)
    r_g = np.real(np.conj(fg_t) * dgb)
    if dA3 is None:
        ddelta, ddeltaA = _sum_to(r_g + r_a, d3.shape), None
    else:
        ddelta, ddeltaA = _sum_to(r_g, d3.shape), _sum_to(r_a, dA3.shape)
    grads = (du, ddelta, dA, dB, dC, ddeltaA, None if h0 is None else _sum_to(dh0, np.shape(h0)))
    return tuple(_like(gr, p) for gr, p in zip(grads, prim))


def s5_inner_ref(u, delta, A, B, C, D, deltaA=None, discretization="bilinear", conj_sym=True,
                 *, h0=None):
    """(2 if conj_sym else 1) * Re(C x) + D * Re(u), real (B,H,L) float64."""
    y = simplified_scan_ref(u, delta, A, B, C, deltaA, False, discretization, h0=h0)
    scale = 2.0 if conj_sym else 1.0
    return scale * y.real + _r(D)[None, :, None] * np.real(_c(u))


def s5_inner_vjp_ref(dout, u, delta, A, B, C, D, deltaA=None, discretization="bilinear",
                     conj_sym=True, *, h0=None):
    """(du, ddelta, dA, dB, dC, dD, ddeltaA, dh0)."""
    g = _r(dout)
    scale = 2.0 if conj_sym else 1.0
    du, ddelta, dA, dB, dC, ddeltaA, dh0 = simplified_scan_vjp_ref(
        scale * g, u, delta, A, B, C, deltaA, False, discretization, h0=h0)
    du = du + _r(D)[None, :, None] * g  # Re(u) passes the real cotangent to the real part
    dD = (g * np.real(_c(u))).sum(axis=(0, 2))
    return du, ddelta, dA, dB, dC, dD, ddeltaA, dh0


# ---- the dispatch entries (canonical signatures, see ``_generic``) ------------------------------


def _back(xp, x, like):
    return None if x is None else xp.asarray(x, dtype=like.dtype)


def forward(xp, u, dt3, A, B, C, dtA3, h0, *, disc):
    y, last = simplified_scan_ref(u, dt3, A, B, C, dtA3, True, disc, h0=h0)
    return _back(xp, y, u), _back(xp, last, u)


def backward(xp, g, u, dt3, A, B, C, dtA3, h0, dlast, *, disc):
    grads = simplified_scan_vjp_ref(g, u, dt3, A, B, C, dtA3, True, disc, h0=h0,
                                    dlast_state=dlast)
    real = np.float32 if u.dtype == np.complex64 else np.float64
    return tuple(None if x is None else xp.asarray(x, dtype=real if k in (1, 5) else u.dtype)
                 for k, x in enumerate(grads))


def inner_forward(xp, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    out = s5_inner_ref(u, dt3, A, B, C, D, dtA3, disc, conj_sym, h0=h0)
    return xp.asarray(out, dtype=D.dtype)


def inner_backward(xp, g, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    grads = s5_inner_vjp_ref(g, u, dt3, A, B, C, D, dtA3, disc, conj_sym, h0=h0)
    real = (1, 5, 6)  # ddt3, dD, ddtA3
    return tuple(None if x is None else xp.asarray(x, dtype=D.dtype if k in real else u.dtype)
                 for k, x in enumerate(grads))
