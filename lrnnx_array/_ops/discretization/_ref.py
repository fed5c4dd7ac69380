"""NumPy float64 oracle for every discretization and its VJP (explicit derivative formulas).

Written separately from ``_generic`` on purpose, with different special-function forms:
(e^x - 1)/x and its derivative come from a 30-term Taylor series for |x| < 1/2 and the plain
closed forms elsewhere (both accurate to ~1e-15 there), instead of the expm1-based forms.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from .._shared.grads import sum_to

_PHI1 = np.array([1 / factorial(k + 1) for k in range(30)])  # (e^x-1)/x = sum x^k/(k+1)!
_DPHI1 = np.array([(k + 1) / factorial(k + 2) for k in range(30)])  # its derivative


def _series(coef, x):
    acc = np.zeros_like(x) + coef[-1]
    for c in coef[-2::-1]:
        acc = acc * x + c
    return acc


def _phi1(x):
    small = np.abs(x) < 0.5
    xs = np.where(small, 1.0, x)
    return np.where(small, _series(_PHI1, np.where(small, x, 0)), (np.exp(xs) - 1) / xs)


def _dphi1(x):
    small = np.abs(x) < 0.5
    xs = np.where(small, 1.0, x)
    return np.where(small, _series(_DPHI1, np.where(small, x, 0)),
                    (xs * np.exp(xs) - np.exp(xs) + 1) / xs**2)


def _hp(*arrays):
    cplx = any(x is not None and np.iscomplexobj(x) for x in arrays)
    dt = np.complex128 if cplx else np.float64
    return [None if x is None else np.asarray(x, dtype=np.float64 if i else dt)
            for i, x in enumerate(arrays)]


def _terms(method, A, dt, tau):
    """(Abar, gbar, dAbar/d(A, dt, tau), dgbar/d(A, dt, tau)); zero partials are 0."""
    x = dt * A
    if method == "zoh" or method == "async":
        E = np.exp(x)
        gbar, dg = dt * _phi1(x), (dt**2 * _dphi1(x), E, 0)
        if method == "zoh":
            return E, gbar, (dt * E, A * E, 0), dg
        Ea = np.exp(dt * tau * A)
        return Ea, gbar, (dt * tau * Ea, tau * A * Ea, dt * A * Ea), dg
    if method == "bilinear":
        s = 1 / (1 - x / 2)
        return (1 + x / 2) * s, dt * s, (dt * s**2, A * s**2, 0), (dt**2 * s**2 / 2, s**2, 0)
    if method in ("dirac", "mamba"):
        E = np.exp(x)
        dg = (0, 0, 0) if method == "dirac" else (0, 1, 0)
        return E, (1.0 if method == "dirac" else dt), (dt * E, A * E, 0), dg
    if method == "no_discretization":
        return A, 1.0, (1, 0, 0), (0, 0, 0)
    if method == "s7":
        q = dt**2 + 0.5
        return 1 - 1 / q, 1.0, (0, 2 * dt / q**2, 0), (0, 0, 0)
    if method == "rglru":
        Abar = A**dt
        gbar = np.sqrt(-np.expm1(2 * dt * np.log(A)))
        w = np.divide(Abar**2, gbar, out=np.zeros(np.broadcast(Abar, gbar).shape), where=gbar > 0)
        lg = np.log(A)
        return Abar, gbar, (dt * Abar / A, Abar * lg, 0), (-dt * w / A, -lg * w, 0)
    raise ValueError(f"unknown method {method!r}")


def discretize_ref(method, A, delta, integration_timesteps=None):
    """(Abar, gbar) in float64/complex128, broadcast to the common shape of the inputs used."""
    A, dt, tau = _hp(A, delta, integration_timesteps)
    shape = np.broadcast_shapes(A.shape, dt.shape, *(() if method != "async" else (tau.shape,)))
    Abar, gbar, _, _ = _terms(method, A, dt, tau)
    dtype = np.result_type(A, dt)
    return tuple(np.array(np.broadcast_to(v, shape), dtype=dtype) for v in (Abar, gbar))


def discretize_vjp_ref(dout, method, A, delta, integration_timesteps=None):
    """Cotangents (dA, ddelta, dtau) of ``(Abar, gbar)``; ``dout`` = (dAbar, dgbar), None = 0.

    PyTorch convention: the holomorphic partial is conjugated, real inputs keep the real part,
    broadcast axes are summed.
    """
    real_A = not np.iscomplexobj(A)
    A, dt, tau = _hp(A, delta, integration_timesteps)
    Abar, gbar = discretize_ref(method, A, dt, tau)
    _, _, pa, pg = _terms(method, A, dt, tau)
    out = []
    for k, x in enumerate((A, dt, tau)):
        if x is None:
            out.append(None)
            continue
        if k == 2 and method != "async":  # integration_timesteps is ignored: zero gradient
            out.append(np.zeros(x.shape))
            continue
        g = np.zeros(Abar.shape, np.complex128)
        for cot, d in zip(dout, (pa[k], pg[k])):
            if cot is not None:
                g = g + np.asarray(cot) * np.conj(d)
        g = _sum_to(g, x.shape)
        out.append(g.real if (k > 0 or real_A) else g)
    return tuple(out)


def _sum_to(g, shape):
    return sum_to(np, g, shape)


# ---- the dispatch entries (canonical signatures, see ``_generic``) ------------------------------


def forward(xp, method, A, dt, tau, *, shape, dtype):
    return tuple(xp.asarray(v, dtype=dtype) for v in discretize_ref(method, A, dt, tau))


def backward(xp, method, A, dt, tau, dAbar, dgbar, *, shape, dtype):
    g = discretize_vjp_ref((dAbar, dgbar), method, A, dt, tau)
    real = np.float32 if dtype in (np.float32, np.complex64) else np.float64
    kinds = (dtype if np.iscomplexobj(A) else real, real, real)
    return tuple(None if gi is None else xp.asarray(gi, dtype=k) for gi, k in zip(g, kinds))
