"""NumPy float64 oracle for the diagonal linear recurrence h_t = a_t * h_{t-1} + b_t."""

from __future__ import annotations

import numpy as np

from .._shared.grads import sum_to


def _hp(*arrays):
    """Promote to float64/complex128 (the oracle's precision)."""
    cplx = any(x is not None and np.iscomplexobj(x) for x in arrays)
    dt = np.complex128 if cplx else np.float64
    return dt, [None if x is None else np.asarray(x, dtype=dt) for x in arrays]


def diag_scan_ref(a, b, h0=None, *, reverse=False):
    """Plain time loop. ``a`` and ``b`` broadcast to (..., L); ``h0`` to (...)."""
    dt, (a, b, h0) = _hp(a, b, h0)
    a, b = np.broadcast_arrays(a, b)
    L = b.shape[-1]
    h = np.zeros(b.shape, dt)
    prev = np.zeros(b.shape[:-1], dt) if h0 is None else np.broadcast_to(h0, b.shape[:-1])
    order = range(L - 1, -1, -1) if reverse else range(L)
    for t in order:
        prev = a[..., t] * prev + b[..., t]
        h[..., t] = prev
    return h


def diag_scan_vjp_ref(dh, a, b, h0=None, *, reverse=False, dlast_state=None):
    """Explicit reverse loop: lam_t = dh_t + conj(a_{t+1}) lam_{t+1}; da = lam conj(h_{t-1})."""
    real_in = [x is not None and not np.iscomplexobj(x) for x in (a, b, h0)]
    dt, (dh, a, b, h0, dlast) = _hp(dh, a, b, h0, dlast_state)
    a_shape, b_shape = np.shape(a), np.shape(b)
    h = diag_scan_ref(a, b, h0, reverse=reverse)
    a_full = np.broadcast_to(a, h.shape)
    dh = np.array(np.broadcast_to(dh, h.shape))
    L = h.shape[-1]
    order = list(range(L - 1, -1, -1)) if reverse else list(range(L))
    if dlast is not None:
        dh[..., order[-1]] += dlast
    h_init = np.zeros(h.shape[:-1], dt) if h0 is None else np.broadcast_to(h0, h.shape[:-1])
    lam = np.zeros(h.shape[:-1], dt)
    da = np.zeros(h.shape, dt)
    db = np.zeros(h.shape, dt)
    gate_next = np.zeros(h.shape[:-1], dt)
    for k in range(L - 1, -1, -1):
        t = order[k]
        lam = dh[..., t] + np.conj(gate_next) * lam
        h_prev = h[..., order[k - 1]] if k > 0 else h_init
        db[..., t] = lam
        da[..., t] = lam * np.conj(h_prev)
        gate_next = a_full[..., t]
    dh0 = None if h0 is None else _sum_to(np.conj(gate_next) * lam, np.shape(h0))
    da, db = _sum_to(da, a_shape), _sum_to(db, b_shape)
    # PyTorch convention: a real input's gradient is the real part.
    da, db, dh0 = (g.real if (g is not None and r) else g for g, r in zip((da, db, dh0), real_in))
    return da, db, dh0


def _sum_to(g, shape):
    return sum_to(np, g, shape)


# The dispatch entries: canonical (R, L) rows in the compute dtype in, that dtype out. The oracle
# itself computes in float64/complex128 and takes any broadcastable shapes.


def forward(xp, a, b, h0, *, reverse):
    return xp.asarray(diag_scan_ref(a, b, h0, reverse=reverse), dtype=b.dtype)


def backward(xp, g, a, b, h0, dlast, *, reverse):
    a_full = np.broadcast_to(a, b.shape)
    grads = diag_scan_vjp_ref(g, a_full, b, h0, reverse=reverse, dlast_state=dlast)
    return tuple(None if x is None else xp.asarray(x, dtype=b.dtype) for x in grads)
