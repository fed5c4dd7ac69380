"""Array-API S5 scan: the CPU fast path and the portable GPU fallback.

The recurrence is diagonal per state, so everything except the scan is a GEMM:
``Bu = B @ u`` ((P,H) @ (B,H,L), batched), ``y = C @ x``, and in the VJP ``dx = C^H @ g``,
``du = B^H @ dBu``, ``dB = sum_b dBu @ u^H``, ``dC = sum_b g @ x^H``. The discretization
(Abar, gbar and their partials) is the numerics layer's (``numerics.split_steps``).

Scan strategy (measured on a 2-core CI-class machine, complex64, B=2 P=64 L=1024):

* **LTI** (one step per state: delta (P,), deltaA (P,) or None): Abar is one number per state.
  Time is cut into chunks of T ~ sqrt(L) steps; a loop over T scans all chunks at once from zero
  state (time-in-chunk major, so each step is one contiguous ufunc pass over B*P*L/T elements),
  a loop over the L/T chunk ends carries the entering states (gate ``Abar^T``), and one
  elementwise pass adds ``Abar^(t+1) * entry``. The whole LTI scan takes 1.63 ms at L = 1024
  and 11.5 ms at L = 8192 (one BLAS thread, loaded machine) against 1.77 and 17.6 ms for the
  Toeplitz-matmul form it replaced, and it is causal: a NaN at step t0 reaches no step before t0
  (a matmul's structural zeros times NaN gave NaN at earlier steps of the chunk). No division by
  Abar; powers by repeated products.
* **time-varying** steps (event (B,L) or full (B,P,L)): Abar differs per element, so the
  elementwise scan ``diag_scan._generic.scan_rows`` over (B*P, L) rows (threads + chunking).

Canonical signatures (the same in ``_ref`` and ``_cuda``): ``forward(xp, u, dt3, A, B, C, dtA3,
h0, *, disc) -> (y, last)``, ``backward(xp, g, u, dt3, A, B, C, dtA3, h0, dlast, *, disc)``,
and ``inner_forward``/``inner_backward`` for ``s5_inner``. Arrays arrive cast: u, A (P,), B, C,
h0 (B, P) complex; steps 3-D real, broadcastable to (B, P, L).
"""

from __future__ import annotations

import math

from .._shared.numerics import split_steps
from .._shared.s5_shapes import broadcast_shape
from ..diag_scan._generic import scan_rows


def discretize(xp, disc, A, dt, dtA, grad=False):
    """(Abar, gbar) broadcast over A, dt, dtA (gbar None for dirac: identically 1), and the
    partials ``(dAbar/dA, dAbar/ddtA, dgbar/dA, dgbar/ddt)`` when ``grad``."""
    (Ab, gb), parts = split_steps(xp, disc, A, dt, dtA, grad)
    gb = None if isinstance(gb, float) else gb
    if not grad:
        return Ab, gb, None
    (fA_A, fA_t), (fg_A, fg_t) = parts
    return Ab, gb, (fA_A, fA_t, fg_A, fg_t)


def _is_lti(shape):
    return shape[0] == 1 and shape[2] == 1


def _powers(xp, a, n):
    """(P, n) table a^k, k = 0..n-1, by repeated products in complex128 (no log of a)."""
    a = xp.astype(a, xp.complex128)
    cols = [xp.ones_like(a)]
    for _ in range(n - 1):
        cols.append(cols[-1] * a)
    return xp.stack(cols, axis=1)


def lti_scan(xp, a, v, h0, dtype):
    """x_t = a x_{t-1} + v_t for a (P,), v (B, P, L), h0 (B, P) or None; all in ``dtype``."""
    Bsz, P, L = v.shape
    if L == 0 or Bsz * P == 0:
        return xp.zeros((Bsz, P, L), dtype=dtype)
    T = min(L, max(16, math.isqrt(L)))
    nC = -(-L // T)
    pad = nC * T - L
    if pad:
        v = xp.concat([v, xp.zeros((Bsz, P, pad), dtype=dtype)], axis=2)
    # (T, B, P, nC): step t of every chunk is one contiguous slice.
    vt = xp.reshape(xp.permute_dims(xp.reshape(v, (Bsz, P, nC, T)), (3, 0, 1, 2)),
                    (T, Bsz, P, nC))
    gate = xp.reshape(xp.astype(a, dtype), (P, 1))
    local = xp.empty((T, Bsz, P, nC), dtype=dtype)
    local[0, ...] = vt[0, ...]
    for t in range(1, T):
        local[t, ...] = gate * local[t - 1, ...] + vt[t, ...]
    if nC > 1 or h0 is not None:
        # States entering each chunk: a loop over the nC chunk ends only.
        pw = _powers(xp, a, T + 1)                          # a^0 .. a^T, complex128
        aT = xp.astype(pw[:, T], dtype)
        entry = xp.empty((Bsz, P, nC), dtype=dtype)
        s = xp.zeros((Bsz, P), dtype=dtype) if h0 is None else h0
        for c in range(nC):
            entry[:, :, c] = s
            s = aT * s + local[T - 1, :, :, c]
        grow = xp.reshape(xp.astype(xp.permute_dims(pw[:, 1:], (1, 0)), dtype), (T, 1, P, 1))
        local = local + grow * entry[None, ...]
    x = xp.reshape(xp.permute_dims(local, (1, 2, 3, 0)), (Bsz, P, nC * T))
    return x[:, :, :L] if pad else x


def _scan(xp, Ab, v, h0, dtype, reverse=False):
    """Scan v (B,P,L) with gates Ab (broadcastable, LTI (1,P,1) or full) from h0 (B,P)/None."""
    Bsz, P, L = v.shape
    if _is_lti(Ab.shape):
        a = xp.reshape(Ab, (P,))
        if reverse:
            return xp.flip(lti_scan(xp, a, xp.flip(v, axis=2), h0, dtype), axis=2)
        return lti_scan(xp, a, v, h0, dtype)
    a_rows = xp.reshape(xp.broadcast_to(Ab, (Bsz, P, L)), (Bsz * P, L))
    h0r = None if h0 is None else xp.reshape(h0, (Bsz * P,))
    x = scan_rows(xp, a_rows, xp.reshape(v, (Bsz * P, L)), h0r, reverse=reverse)
    return xp.reshape(x, (Bsz, P, L))


def states(xp, disc, u, dt3, A, B, dtA3, h0, *, need_Bu=True, grad=False):
    """Discretise, project and scan: returns (x, Abar, gbar, Bu, partials) with Bu = B @ u
    (unscaled; None when gbar is per state and ``need_Bu`` is False: the VJP does without)."""
    dtype = u.dtype
    P = A.shape[0]
    A3 = xp.reshape(A, (1, P, 1))
    Ab, gb, parts = discretize(xp, disc, A3, dt3, dtA3, grad)
    if gb is not None and _is_lti(gb.shape):
        # gbar per state: fold it into B (a (P,H) scaling instead of a (B,P,L) pass).
        v = xp.matmul(xp.reshape(gb, (P, 1)) * B, u)
        Bu = xp.matmul(B, u) if need_Bu else None
    else:
        Bu = xp.matmul(B, u)
        v = Bu if gb is None else gb * Bu
    return _scan(xp, Ab, v, h0, dtype), Ab, gb, Bu, parts


def forward(xp, u, dt3, A, B, C, dtA3, h0, *, disc):
    """(y (B,H,L), last state (B,P)) with y = C @ x."""
    x = states(xp, disc, u, dt3, A, B, dtA3, h0)[0]
    L = x.shape[2]
    last = x[:, :, L - 1] if L else (xp.zeros(x.shape[:2], dtype=x.dtype) if h0 is None else h0)
    return xp.matmul(C, x), last


def _mH(xp, x):
    """Conjugate transpose of the last two axes."""
    return xp.conj(xp.permute_dims(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)))


def _sum_to(xp, g, shape):
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, g.shape)) if n == 1 and m != 1)
    return xp.sum(g, axis=axes, keepdims=True) if axes else g


def backward(xp, g, u, dt3, A, B, C, dtA3, h0, dlast, *, disc):
    """Gradients (du, ddt3, dA, dB, dC, ddtA3, dh0) at the normalised shapes (all complex
    except the step gradients, which are real)."""
    dtype = u.dtype
    Bsz, H, L = u.shape
    P = A.shape[0]
    x, Ab, gb, Bu, parts = states(xp, disc, u, dt3, A, B, dtA3, h0, need_Bu=False, grad=True)
    gb_lti = gb is not None and _is_lti(gb.shape)
    dC = xp.sum(xp.matmul(g, _mH(xp, x)), axis=0)
    dx = xp.matmul(_mH(xp, C), g)
    if dlast is not None:
        dx = xp.concat([dx[:, :, :L - 1], dx[:, :, L - 1:] + dlast[..., None]], axis=2)
    # lambda_t = dx_t + conj(Abar_{t+1}) lambda_{t+1}: a reverse scan with gates shifted by one.
    if _is_lti(Ab.shape):
        lam = _scan(xp, xp.conj(Ab), dx, None, dtype, reverse=True)
    else:
        Abf = xp.broadcast_to(Ab, (Bsz, P, L))
        gates = xp.concat([xp.conj(Abf[:, :, 1:]), xp.zeros((Bsz, P, 1), dtype=dtype)], axis=2)
        lam = _scan(xp, gates, dx, None, dtype, reverse=True)
    a0 = xp.broadcast_to(Ab, (Bsz, P, L))[:, :, 0] if Ab.shape[2] != 1 else xp.broadcast_to(
        Ab[:, :, 0], (Bsz, P))
    dh0 = None if h0 is None else xp.conj(a0) * lam[:, :, 0]
    if gb is None or gb_lti:
        # dBu = conj(gbar_p) lam: fold the per-state factor into the (P,H) side of the GEMMs.
        lam_u = xp.sum(xp.matmul(lam, _mH(xp, u)), axis=0)          # sum_b lam u^H, (P, H)
        gcol = None if gb is None else xp.reshape(xp.conj(gb), (P, 1))
        du = xp.matmul(_mH(xp, B if gcol is None else xp.conj(gcol) * B), lam)
        dB = lam_u if gcol is None else gcol * lam_u
    else:
        dBu = xp.conj(gb) * lam
        du = xp.matmul(_mH(xp, B), dBu)
        dB = xp.sum(xp.matmul(dBu, _mH(xp, u)), axis=0)
    # Adjoints of Abar and gbar, summed down to the shapes they were computed at.
    if _is_lti(Ab.shape):
        # sum_t lam_t conj(x_{t-1}) without building x_prev: vecdot conjugates its first input.
        s = xp.sum(xp.vecdot(x[:, :, :L - 1], lam[:, :, 1:], axis=-1), axis=0)
        if h0 is not None:
            s = s + xp.sum(xp.conj(h0) * lam[:, :, 0], axis=0)
        dAb = xp.reshape(s, (1, P, 1))
    else:
        first = xp.zeros((Bsz, P, 1), dtype=dtype) if h0 is None else h0[..., None]
        x_prev = xp.concat([first, x[:, :, :L - 1]], axis=2)
        dAb = _sum_to(xp, lam * xp.conj(x_prev), Ab.shape)
    dgb = None
    if gb is not None:
        if gb_lti:
            # sum_{b,t} lam conj(B u) = sum_h conj(B) * (sum_b lam u^H): no Bu needed.
            dgb = xp.reshape(xp.sum(xp.conj(B) * lam_u, axis=1), (1, P, 1))
        else:
            dgb = _sum_to(xp, lam * xp.conj(Bu), gb.shape)
    fA_A, fA_t, fg_A, fg_t = parts
    dA = xp.sum(_sum_to(xp, xp.conj(fA_A) * dAb, (1, P, 1)), axis=(0, 2))
    r_a = xp.real(xp.conj(fA_t) * dAb)
    if dgb is not None:
        dA = dA + xp.sum(_sum_to(xp, xp.conj(fg_A) * dgb, (1, P, 1)), axis=(0, 2))
        r_g = xp.real(xp.conj(fg_t) * dgb)
    else:
        r_g = None
    if dtA3 is None:
        tot = r_a if r_g is None else _add_b(xp, r_a, r_g)
        ddt, ddtA = _sum_to(xp, tot, dt3.shape), None
    else:
        ddt = (xp.zeros(dt3.shape, dtype=r_a.dtype) if r_g is None
               else _sum_to(xp, r_g, dt3.shape))
        ddtA = _sum_to(xp, r_a, dtA3.shape)
    return du, ddt, dA, dB, dC, ddtA, dh0


def _add_b(xp, a, b):
    shape = broadcast_shape(a.shape, b.shape)
    return xp.broadcast_to(a, shape) + xp.broadcast_to(b, shape)


# ---- s5_inner on top of any implementation's scan (shared by _generic and _cuda) ---------------


def inner_output(xp, y, u, D, conj_sym):
    """(2 if conj_sym else 1) * Re(y) + D * Re(u): the S5 layer's output from the scan's y."""
    scale = 2.0 if conj_sym else 1.0
    return scale * xp.real(y) + xp.reshape(D, (-1, 1)) * xp.real(u)


def inner_grads(xp, backward_fn, g, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    """s5_inner's (du, ddt3, dA, dB, dC, dD, ddtA3, dh0) from a scan ``backward_fn``."""
    scale = 2.0 if conj_sym else 1.0
    gs = xp.astype(scale * g, u.dtype)
    du, ddt, dA, dB, dC, ddtA, dh0 = backward_fn(xp, gs, u, dt3, A, B, C, dtA3, h0, None,
                                                 disc=disc)
    Dc = xp.reshape(D, (-1, 1))
    du = du + xp.astype(Dc * g, u.dtype)  # Re(u) passes the real cotangent to the real part
    dD = xp.sum(g * xp.real(u), axis=(0, 2))
    return du, ddt, dA, dB, dC, dD, ddtA, dh0


def inner_forward(xp, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    """s5_inner's output (B, H, L), real."""
    return inner_output(xp, forward(xp, u, dt3, A, B, C, dtA3, h0, disc=disc)[0], u, D, conj_sym)


def inner_backward(xp, g, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    return inner_grads(xp, backward, g, u, dt3, A, B, C, D, dtA3, h0, disc=disc,
                       conj_sym=conj_sym)
