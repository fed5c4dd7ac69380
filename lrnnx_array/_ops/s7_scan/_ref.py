"""NumPy float64 oracle for the S7 scan: a plain loop over time, VJP as a reverse loop.

Bu_t = Σ_h B_{:,h,t} u_{h,t} + bias_t,  s_t = Ā_t s_{t−1} + Bu_t with Ā_t = 1 − 1/(A_t² + ½),
y_t = Σ_n C_{:,n,t} s_{n,t}. Ā lies in [−1, 1) for every real A, so nothing here divides by Ā.
"""

from __future__ import annotations

import numpy as np


def abar_ref(A):
    """(Ā, dĀ/dA) = (1 − 1/(A² + ½), 2A/(A² + ½)²)."""
    w = A * A + 0.5
    return 1 - 1 / w, 2 * A / (w * w)


def _f64(*xs):
    return [None if x is None else np.asarray(x, dtype=np.float64) for x in xs]


def _states(u, A, B, bias, h0):
    """States s_{-1..L-1} as (L+1, batch, N)."""
    Bsz, N, L = A.shape
    ss = np.zeros((L + 1, Bsz, N))
    if h0 is not None:
        ss[0] = h0
    abar, _ = abar_ref(A)
    for t in range(L):
        bu = np.einsum("bnh,bh->bn", B[..., t], u[..., t])
        if bias is not None:
            bu = bu + bias[..., t]
        ss[t + 1] = abar[..., t] * ss[t] + bu
    return ss


def s7_scan_ref(u, A, B, C, bias=None, return_last_state=False, *, h0=None):
    """y (batch, H, L) in float64, and the last state (batch, N) when asked."""
    u, A, B, C, bias, h0 = _f64(u, A, B, C, bias, h0)
    ss = _states(u, A, B, bias, h0)
    y = np.zeros(u.shape)
    for t in range(u.shape[-1]):
        y[..., t] = np.einsum("bhn,bn->bh", C[..., t], ss[t + 1])
    return (y, ss[-1]) if return_last_state else y


def s7_scan_vjp_ref(dout, u, A, B, C, bias=None, return_last_state=False, *, h0=None,
                    dlast_state=None):
    """(du, dA, dB, dC, dbias, dh0) with λ_t = Cᵀ dout_t + Ā_{t+1} λ_{t+1} (+ dlast at L−1)."""
    dout, u, A, B, C, bias, h0, dlast = _f64(dout, u, A, B, C, bias, h0, dlast_state)
    ss = _states(u, A, B, bias, h0)
    abar, dabar = abar_ref(A)
    L = u.shape[-1]
    du, dA, dB, dC = (np.zeros(x.shape) for x in (u, A, B, C))
    dbu = np.zeros(A.shape)
    lam = np.zeros(ss.shape[1:]) if dlast is None else dlast.copy()
    for t in range(L - 1, -1, -1):
        # At t = L−1 lam holds dlast_state (or zeros); later it is carried through Ā_{t+1}.
        carried = abar[..., t + 1] * lam if t < L - 1 else lam
        lam = np.einsum("bhn,bh->bn", C[..., t], dout[..., t]) + carried
        dbu[..., t] = lam
        dC[..., t] = dout[:, :, None, t] * ss[t + 1][:, None, :]
        dB[..., t] = lam[:, :, None] * u[:, None, :, t]
        du[..., t] = np.einsum("bnh,bn->bh", B[..., t], lam)
        dA[..., t] = lam * ss[t] * dabar[..., t]
    dh0 = None if h0 is None else abar[..., 0] * lam
    return du, dA, dB, dC, (None if bias is None else dbu), dh0


# The dispatch entries: canonical arrays in the compute dtype in, that dtype out. The oracle
# itself computes in float64.


def forward(xp, u, A, B, C, bias, h0):
    y, last = s7_scan_ref(u, A, B, C, bias, True, h0=h0)
    return xp.asarray(y, dtype=u.dtype), xp.asarray(last, dtype=u.dtype)


def backward(xp, dout, u, A, B, C, bias, h0, dlast):
    g = s7_scan_vjp_ref(dout, u, A, B, C, bias, h0=h0, dlast_state=dlast)
    return tuple(None if x is None else xp.asarray(x, dtype=u.dtype) for x in g)
