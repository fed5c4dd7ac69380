"""NumPy float64 oracles for the causal convolutions: direct time-domain sums, no FFT.

``fft_conv_ref``: y_t = sum_{s<=t} k_{t-s} x_s (matrix taps). ``ssm_conv_ref``: the modal form
y_t = Re sum_n C_{o,n} sum_{s<=t} K_{n,t-s} (B x_s)_n. ``channel_conv_ref``: per-channel taps.
The VJPs are explicit correlation loops (the adjoint of a causal convolution runs backwards in
time), not finite differences.
"""

from __future__ import annotations

import numpy as np

from .._shared.grads import sum_to


def _hp(x):
    x = np.asarray(x)
    return x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)


def _real_if(g, like):
    return g if np.iscomplexobj(like) else np.real(g)


def fft_conv_ref(x, k):
    """x (B, L, Hin), k (L, Hout, Hin) -> y (B, L, Hout)."""
    x, k = _hp(x), _hp(k)
    Bn, L, _ = x.shape
    y = np.zeros((Bn, L, k.shape[1]), np.result_type(x, k))
    for t in range(L):
        for s in range(t + 1):
            y[:, t] += x[:, s] @ k[t - s].T
    return y


def fft_conv_vjp_ref(dy, x, k):
    """(dx, dk): dx_s = sum_{t>=s} conj(k_{t-s})^T dy_t, dk_j = sum_{b,t} dy_t conj(x_{t-j})^T."""
    dy, x0, k0 = _hp(dy), x, k
    x, k = _hp(x), _hp(k)
    L = x.shape[1]
    dx = np.zeros(x.shape, np.complex128)
    dk = np.zeros(k.shape, np.complex128)
    for t in range(L - 1, -1, -1):
        for s in range(t + 1):
            dx[:, s] += dy[:, t] @ np.conj(k[t - s])
            dk[t - s] += dy[:, t].T @ np.conj(x[:, s])
    return _real_if(dx, x0), _real_if(dk, k0)


def channel_conv_ref(u, k):
    """Per-channel causal convolution of u (..., L) with k (..., L), broadcast leading axes."""
    u, k = np.broadcast_arrays(_hp(u), _hp(k))
    L = u.shape[-1]
    y = np.zeros(u.shape, np.result_type(u, k))
    for t in range(L):
        for s in range(t + 1):
            y[..., t] += k[..., t - s] * u[..., s]
    return y


def channel_conv_vjp_ref(dy, u, k):
    """(du, dk) reduced to the shapes of u and k."""
    u0, k0 = u, k
    ub, kb = np.broadcast_arrays(_hp(u), _hp(k))
    dy = np.broadcast_to(_hp(dy), ub.shape)
    L = ub.shape[-1]
    du = np.zeros(ub.shape, np.complex128)
    dk = np.zeros(ub.shape, np.complex128)
    for t in range(L - 1, -1, -1):
        for s in range(t + 1):
            du[..., s] += np.conj(kb[..., t - s]) * dy[..., t]
            dk[..., t - s] += dy[..., t] * np.conj(ub[..., s])
    return _real_if(_sum_to(du, np.shape(u0)), u0), _real_if(_sum_to(dk, np.shape(k0)), k0)


def ssm_conv_ref(x, K, B_bar, C):
    """x (B, L, Hin) real, K (N, L), B_bar (N, Hin), C (Hout, N) -> y (B, L, Hout) real."""
    x, K, B_bar, C = (_hp(a) for a in (x, K, B_bar, C))
    L = x.shape[1]
    v = x @ B_bar.T  # (B, L, N)
    w = np.zeros(v.shape, np.complex128)
    for t in range(L):
        for s in range(t + 1):
            w[:, t] += K[:, t - s] * v[:, s]
    return np.real(w @ C.T)


def ssm_conv_vjp_ref(dy, x, K, B_bar, C):
    """(dx, dK, dB_bar, dC) of y = Re(C (K * (B_bar x))) with a real cotangent dy."""
    x0, K0, B0, C0 = x, K, B_bar, C
    dy, x, K, B_bar, C = (_hp(a) for a in (dy, x, K, B_bar, C))
    L = x.shape[1]
    v = x @ B_bar.T
    w = np.zeros(v.shape, np.complex128)
    for t in range(L):
        for s in range(t + 1):
            w[:, t] += K[:, t - s] * v[:, s]
    dC = np.einsum("blo,bln->on", dy, np.conj(w))
    dw = dy @ np.conj(C)  # (B, L, N)
    dv = np.zeros(v.shape, np.complex128)
    dK = np.zeros(K.shape, np.complex128)
    for t in range(L - 1, -1, -1):
        for s in range(t + 1):
            dv[:, s] += np.conj(K[:, t - s]) * dw[:, t]
            dK[:, t - s] += np.sum(dw[:, t] * np.conj(v[:, s]), axis=0)
    dB = np.einsum("bln,bli->ni", dv, np.conj(x))
    dx = dv @ np.conj(B_bar)
    return tuple(_real_if(g, p) for g, p in zip((dx, dK, dB, dC), (x0, K0, B0, C0)))


def _sum_to(g, shape):
    return sum_to(np, g, shape)


# ---- canonical functions (what SPEC.get("reference", ...) returns) ------------------------------
# NumPy-only (the dispatch refuses the reference elsewhere): plain np.asarray, no test kit. The
# arrays arrive validated and cast (the compute dtype); results go back at that precision.


def _like(xp, g, a):
    """``g`` (float64 / complex128) in ``a``'s dtype, the real part when ``a`` is real."""
    g = np.asarray(g)
    if np.iscomplexobj(g) and not np.iscomplexobj(a):
        g = g.real
    return xp.asarray(g, dtype=a.dtype)


def forward(xp, x, k):
    return _like(xp, fft_conv_ref(np.asarray(x), np.asarray(k)), x)


def backward(xp, dy, x, k):
    dx, dk = fft_conv_vjp_ref(np.asarray(dy), np.asarray(x), np.asarray(k))
    return _like(xp, dx, x), _like(xp, dk, k)


def channels_forward(xp, u, k):
    return _like(xp, channel_conv_ref(np.asarray(u), np.asarray(k)), u)


def channels_backward(xp, dy, u, k):
    du, dk = channel_conv_vjp_ref(np.asarray(dy), np.asarray(u), np.asarray(k))
    return _like(xp, du, u), _like(xp, dk, k)


def ssm_forward(xp, x, K, B_bar, C, *, strategy="auto"):
    # One direct sum whatever the strategy (they compute the same function).
    return _like(xp, ssm_conv_ref(*(np.asarray(a) for a in (x, K, B_bar, C))), x)


def ssm_backward(xp, dy, x, K, B_bar, C):
    args = (x, K, B_bar, C)
    g = ssm_conv_vjp_ref(np.asarray(dy), *(np.asarray(a) for a in args))
    return tuple(_like(xp, gi, a) for gi, a in zip(g, args))
