"""NumPy complex128 oracle for the symmetric Cauchy product (explicit sums over poles and nodes)."""

from __future__ import annotations

import numpy as np

from .._shared.grads import sum_to

_NODES = 256  # nodes per vectorised block (bounds the (..., N, nodes) temporaries)


def _c(x):
    return np.asarray(x, dtype=np.complex128)


def cauchy_ref(v, z, w):
    """out[..., l] = sum_n v_n / (z_l - w_n) + conj(v_n) / (z_l - conj(w_n))."""
    v, w = np.broadcast_arrays(_c(v), _c(w))
    z = _c(z)
    out = np.zeros(v.shape[:-1] + z.shape, np.complex128)
    vc, wc = np.conj(v)[..., None], np.conj(w)[..., None]
    vv, ww = v[..., None], w[..., None]
    for l0 in range(0, z.shape[0], _NODES):
        zl = z[l0:l0 + _NODES]
        out[..., l0:l0 + zl.shape[0]] = np.sum(vv / (zl - ww) + vc / (zl - wc), axis=-2)
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
    return sum_to(np, dv, v_shape), dz, sum_to(np, dw, w_shape)


# ---- canonical functions (what SPEC.get("reference", ...) returns) ------------------------------
# The reference is NumPy-only (the dispatch refuses it elsewhere): plain np.asarray, no test kit.


def forward(xp, v, z, w, *, imag_nodes=False, guard=True):
    """v (Rw, M, N), z (L,), w (Rw, N) -> (Rw, M, L) in v's dtype."""
    out = cauchy_ref(np.asarray(v), np.asarray(z), np.asarray(w)[:, None, :])
    return xp.asarray(out, dtype=v.dtype)


def backward(xp, g, v, z, w, *, need_dz=True, imag_nodes=False, guard=True):
    """(dv (Rw, M, N), dz (L,) or None, dw (Rw, N)) in v's dtype."""
    dv, dz, dw = cauchy_vjp_ref(np.asarray(g), np.asarray(v), np.asarray(z),
                                np.asarray(w)[:, None, :])
    cast = lambda a: xp.asarray(a, dtype=v.dtype)  # noqa: E731
    return cast(dv), cast(dz) if need_dz else None, cast(dw[:, 0, :])
