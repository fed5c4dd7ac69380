"""NumPy complex128 oracle for the log-Vandermonde products (plain loops over l)."""

from __future__ import annotations

import numpy as np

from .._shared.grads import sum_to


def _sum_to_(g, shape):
    return sum_to(np, g, shape)


def _c(x):
    return np.asarray(x, dtype=np.complex128)


def log_vandermonde_ref(v, x, L):
    """out[..., l] = 2 Re sum_n v_n exp(x_n l), l = 0..L-1."""
    v, x = np.broadcast_arrays(_c(v), _c(x))
    out = np.zeros(v.shape[:-1] + (L,))
    for l in range(L):
        out[..., l] = 2.0 * np.sum(v * np.exp(x * l), axis=-1).real
    return out


def log_vandermonde_vjp_ref(dout, v, x, L):
    """dv = 2 sum_l g_l conj(e^{x l});  dx = 2 conj(v) sum_l l g_l conj(e^{x l})."""
    v_shape, x_shape = np.shape(v), np.shape(x)
    v, x = np.broadcast_arrays(_c(v), _c(x))
    g = np.broadcast_to(np.asarray(dout, dtype=np.float64), v.shape[:-1] + (L,))
    s0 = np.zeros(v.shape, np.complex128)
    s1 = np.zeros(v.shape, np.complex128)
    for l in range(L):
        e = np.conj(np.exp(x * l)) * g[..., l, None]
        s0 += e
        s1 += l * e
    return _sum_to_(2.0 * s0, v_shape), _sum_to_(2.0 * np.conj(v) * s1, x_shape)


def log_vandermonde_transpose_ref(u, v, x, L):
    """out[..., n] = sum_l u_l v_n exp(x_n l)."""
    u = _c(u)
    shape = np.broadcast_shapes(u.shape[:-1], np.shape(v)[:-1], np.shape(x)[:-1])
    v, x = np.broadcast_arrays(_c(v), _c(x))
    N2 = v.shape[-1]
    v = np.broadcast_to(v, shape + (N2,))
    x = np.broadcast_to(x, shape + (N2,))
    u = np.broadcast_to(u, shape + (L,))
    acc = np.zeros(shape + (N2,), np.complex128)
    for l in range(L):
        acc += u[..., l, None] * np.exp(x * l)
    return v * acc


def log_vandermonde_transpose_vjp_ref(dout, u, v, x, L):
    """du_l = sum_n conj(v_n e^{x_n l}) g_n; dv = g conj(sum_l u_l e^{x l});
    dx = g conj(v sum_l l u_l e^{x l})."""
    u_shape, v_shape, x_shape = np.shape(u), np.shape(v), np.shape(x)
    u_real = not np.iscomplexobj(u)
    u = _c(u)
    shape = np.broadcast_shapes(u.shape[:-1], v_shape[:-1], x_shape[:-1])
    v, x = np.broadcast_arrays(_c(v), _c(x))
    N2 = v.shape[-1]
    v = np.broadcast_to(v, shape + (N2,))
    x = np.broadcast_to(x, shape + (N2,))
    u = np.broadcast_to(u, shape + (L,))
    g = np.broadcast_to(_c(dout), shape + (N2,))
    du = np.zeros(shape + (L,), np.complex128)
    s0 = np.zeros(shape + (N2,), np.complex128)
    s1 = np.zeros(shape + (N2,), np.complex128)
    for l in range(L):
        e = np.exp(x * l)
        du[..., l] = np.sum(np.conj(v * e) * g, axis=-1)
        s0 += u[..., l, None] * e
        s1 += l * u[..., l, None] * e
    du = du.real if u_real else du
    return (_sum_to_(du, u_shape), _sum_to_(g * np.conj(s0), v_shape),
            _sum_to_(g * np.conj(v * s1), x_shape))


# ---- canonical functions (what SPEC.get("reference", ...) returns) ------------------------------
# NumPy-only (the dispatch refuses the reference elsewhere): plain np.asarray, no test kit. The
# shared log-poles x (Rw, N) broadcast over the M coefficient rows as x[:, None, :].


def _rdt(dtype):
    return np.float32 if dtype == np.complex64 else np.float64


def forward(xp, v, x, L):
    out = log_vandermonde_ref(np.asarray(v), np.asarray(x)[:, None, :], L)
    return xp.asarray(out, dtype=_rdt(v.dtype))


def backward(xp, g, v, x, L):
    dv, dx = log_vandermonde_vjp_ref(np.asarray(g), np.asarray(v), np.asarray(x)[:, None, :], L)
    return xp.asarray(dv, dtype=v.dtype), xp.asarray(dx[:, 0, :], dtype=v.dtype)


def transpose(xp, u, v, x, L):
    out = log_vandermonde_transpose_ref(np.asarray(u), np.asarray(v), np.asarray(x)[:, None, :], L)
    return xp.asarray(out, dtype=v.dtype)


def transpose_backward(xp, g, u, v, x, L):
    du, dv, dx = log_vandermonde_transpose_vjp_ref(
        np.asarray(g), np.asarray(u).astype(np.complex128), np.asarray(v),
        np.asarray(x)[:, None, :], L)
    cast = lambda a: xp.asarray(a, dtype=v.dtype)  # noqa: E731
    return cast(du), cast(dv), cast(dx[:, 0, :])
