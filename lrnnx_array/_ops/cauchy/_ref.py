"""NumPy complex128 oracle for the symmetric Cauchy product (plain loop over the nodes z)."""

from __future__ import annotations

import numpy as np


def _c(x):
    return np.asarray(x, dtype=np.complex128)


def cauchy_ref(v, z, w):
    """out[..., l] = sum_n v_n / (z_l - w_n) + conj(v_n) / (z_l - conj(w_n))."""
    v, w = np.broadcast_arrays(_c(v), _c(w))
    z = _c(z)
    out = np.zeros(v.shape[:-1] + z.shape, np.complex128)
    vc, wc = np.conj(v), np.conj(w)
    for l in range(z.shape[0]):
        out[..., l] = np.sum(v / (z[l] - w) + vc / (z[l] - wc), axis=-1)
    return out


def cauchy_vjp_ref(dout, v, z, w):
    """(dv, dz, dw) by explicit sums over the nodes (PyTorch complex convention).

    With r1 = 1/(z_l - w_n), r2 = 1/(z_l - conj w_n) and g = dout:
    dv_n = sum_l g_l conj(r1) + conj(g_l) r2,
    dw_n = conj(v_n) sum_l g_l conj(r1)^2 + conj(g_l) r2^2,
    dz_l = -g_l conj(sum_n v_n r1^2 + conj(v_n) r2^2).
    """
    v_shape, w_shape, z_real = np.shape(v), np.shape(w), not np.iscomplexobj(z)
    v, w = np.broadcast_arrays(_c(v), _c(w))
    z = _c(z)
    g = np.broadcast_to(_c(dout), v.shape[:-1] + z.shape)
    vc, wc = np.conj(v), np.conj(w)
    dv = np.zeros(v.shape, np.complex128)
    s2 = np.zeros(v.shape, np.complex128)
    dz = np.zeros(z.shape, np.complex128)
    for l in range(z.shape[0]):
        r1 = 1.0 / (z[l] - w)
        r2 = 1.0 / (z[l] - wc)
        gl = g[..., l, None]
        dv += gl * np.conj(r1) + np.conj(gl) * r2
        s2 += gl * np.conj(r1) ** 2 + np.conj(gl) * r2**2
        dz[l] = -np.sum(g[..., l] * np.conj(np.sum(v * r1**2 + vc * r2**2, axis=-1)))
    dw = vc * s2
    dz = dz.real if z_real else dz
    return _sum_to(dv, v_shape), dz, _sum_to(dw, w_shape)


def _sum_to(g, shape):
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g
