"""Array-API S5 scan: the CPU fast path and the portable GPU fallback.

The recurrence is diagonal per state, so everything except the scan is a GEMM:
``Bu = B @ u`` ((P,H) @ (B,H,L), batched), ``y = C @ x``, and in the VJP ``dx = C^H @ g``,
``du = B^H @ dBu``, ``dB = sum_b dBu @ u^H``, ``dC = sum_b g @ x^H``.

Scan strategy (measured on a 2-core CI-class machine, complex64, B=2 H=64 P=64 L=1024):

* **LTI** (one step per state: delta (P,), deltaA (P,) or None): Abar is one number per state, so
  the scan is a Toeplitz product. Time is cut into chunks of T = 32 steps; inside a chunk
  ``x = M_p v`` with ``M_p[t, s] = Abar_p^(t-s)`` (t >= s), one batched matmul (~T complex MACs
  per element, in BLAS); a loop over the L/T chunk ends carries the entering states (gate
  ``Abar_p^T``); one elementwise pass adds ``Abar^(t+1) * entry``. No division by Abar; powers
  by repeated products. gbar is folded into B before the GEMM.
* **time-varying** steps (event (B,L) or full (B,P,L)): Abar differs per element, so the
  elementwise scan ``diag_scan._generic.scan_rows`` over (B*P, L) rows (threads + chunking).
"""

from __future__ import annotations

from ..diag_scan._generic import scan_rows
from .._shared.s5_shapes import broadcast_shape


def discretize(xp, disc, A, dt, dtA):
    """(Abar, gbar) broadcast over A, dt, dtA; gbar is None for dirac (identically 1)."""
    dtA = dt if dtA is None else dtA
    if disc == "zoh":
        Ab = xp.exp(A * dtA)
        e = Ab if dtA is dt else xp.exp(A * dt)
        return Ab, (e - 1) / A
    if disc == "bilinear":
        return (1 + A * (dtA / 2)) / (1 - A * (dtA / 2)), dt / (1 - A * (dt / 2))
    return xp.exp(A * dtA), None


def derivs(xp, disc, A, dt, dtA, Ab, gb):
    """Holomorphic derivatives (dAbar/dA, dAbar/ddtA, dgbar/dA, dgbar/ddt); None for dirac's
    gbar."""
    dtA = dt if dtA is None else dtA
    if disc == "bilinear":
        q = 1 / (1 - A * (dtA / 2))
        r = 1 / (1 - A * (dt / 2))
        return q * q * dtA, q * q * A, gb * gb / 2, r * r
    fA, ft = Ab * dtA, Ab * A
    if disc == "zoh":
        e = Ab if dtA is dt else xp.exp(A * dt)
        return fA, ft, (e * dt - gb) / A, e
    return fA, ft, None, None


def _is_lti(shape):
    return shape[0] == 1 and shape[2] == 1


def _powers(xp, a, n):
    """(P, n) table a^k, k = 0..n-1, by repeated products in complex128 (no log of a)."""
    a = xp.astype(a, xp.complex128)
    cols = [xp.ones_like(a)]
    for _ in range(n - 1):
        cols.append(cols[-1] * a)
    return xp.stack(cols, axis=1)


def _toeplitz(xp, pw, n):
    """(P, n, n) lower-triangular M[t, s] = pw[:, t-s] (t >= s), from a power table."""
    t = xp.arange(n)
    diff = t[:, None] - t[None, :]
    keep = diff >= 0
    idx = xp.reshape(xp.where(keep, diff, 0), (n * n,))
    M = xp.reshape(xp.take(pw, idx, axis=1), (pw.shape[0], n, n))
    return xp.where(keep[None, ...], M, xp.zeros((), dtype=M.dtype))


_T = 32  # chunk length: measured optimum (16 and 64 are slower at L = 1024 and 8192)


def lti_scan(xp, a, v, h0, dtype):
    """x_t = a x_{t-1} + v_t for a (P,), v (B, P, L), h0 (B, P) or None; all in ``dtype``."""
    Bsz, P, L = v.shape
    if L == 0:
        return v
    T = min(L, _T)
    nC = -(-L // T)
    pad = nC * T - L
    if pad:
        v = xp.concat([v, xp.zeros((Bsz, P, pad), dtype=dtype)], axis=2)
    pw = _powers(xp, a, T + 1)                      # a^0 .. a^T, complex128
    M = xp.astype(_toeplitz(xp, pw[:, :T], T), dtype)          # (P, T, T)
    Mt = xp.permute_dims(M, (0, 2, 1))
    v4 = xp.reshape(v, (Bsz, P, nC, T))
    local = xp.matmul(v4, Mt[None, ...])            # (B, P, nC, T): chunks from zero state
    if nC == 1 and h0 is None:
        return xp.reshape(local, (Bsz, P, T))[:, :, :L]
    # States entering each chunk: a loop over the nC = L/T chunk ends only.
    aT = xp.astype(pw[:, T], dtype)
    ends = local[:, :, :, T - 1]
    entry = xp.empty((Bsz, P, nC), dtype=dtype)
    s = xp.zeros((Bsz, P), dtype=dtype) if h0 is None else h0
    for c in range(nC):
        entry[:, :, c] = s
        s = aT * s + ends[:, :, c]
    grow = xp.astype(pw[:, 1:], dtype)              # a^(t+1), t = 0..T-1
    x = local + entry[..., None] * grow[None, :, None, :]
    return xp.reshape(x, (Bsz, P, nC * T))[:, :, :L]


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


def states(xp, disc, u, dt3, A, B, dtA3, h0, dtype, *, need_Bu=True):
    """Discretise, project and scan: returns (x, Abar, gbar, Bu) with Bu = B @ u (unscaled;
    None when gbar is per state and ``need_Bu`` is False: the VJP gets by without it)."""
    P = A.shape[0]
    A3 = xp.reshape(A, (1, P, 1))
    Ab, gb = discretize(xp, disc, A3, dt3, dtA3)
    if gb is not None and _is_lti(gb.shape):
        # gbar per state: fold it into B (a (P,H) scaling instead of a (B,P,L) pass).
        v = xp.matmul(xp.reshape(gb, (P, 1)) * B, u)
        Bu = xp.matmul(B, u) if need_Bu else None
    else:
        Bu = xp.matmul(B, u)
        v = Bu if gb is None else gb * Bu
    return _scan(xp, Ab, v, h0, dtype), Ab, gb, Bu


def forward(xp, disc, u, dt3, A, B, C, dtA3, h0, dtype):
    """(y, x): y = C @ x (B,H,L)."""
    x = states(xp, disc, u, dt3, A, B, dtA3, h0, dtype)[0]
    return xp.matmul(C, x), x


def _mH(xp, x):
    """Conjugate transpose of the last two axes."""
    return xp.conj(xp.permute_dims(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)))


def _sum_to(xp, g, shape):
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, g.shape)) if n == 1 and m != 1)
    return xp.sum(g, axis=axes, keepdims=True) if axes else g


def backward(xp, disc, g, u, dt3, A, B, C, dtA3, h0, dlast, dtype, scan_states=None):
    """Gradients (du, ddt3, dA, dB, dC, ddtA3, dh0) at the normalised shapes (all complex
    except the step gradients, which are real). ``scan_states`` replaces the forward scan and
    the adjoint scan when given (the CUDA path passes its kernels through the same maths)."""
    Bsz, H, L = u.shape
    P = A.shape[0]
    x, Ab, gb, Bu = states(xp, disc, u, dt3, A, B, dtA3, h0, dtype, need_Bu=False)
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
    A3 = xp.reshape(A, (1, P, 1))
    fA_A, fA_t, fg_A, fg_t = derivs(xp, disc, A3, dt3, dtA3, Ab, gb)
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
