"""NumPy float64/complex128 oracle for the selective scan: a plain loop over time.

Written from the formulas of spec §2/§3.1, independently of ``_generic``: the discretization
and its derivatives in closed form, the forward recurrence one step at a time, and the VJP as an
explicit reverse loop over the stored states (h_{t-1} is read, never recovered by dividing by Ā).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

METHODS = ("mamba", "zoh", "bilinear", "dirac", "s7", "rglru")


class Disc(NamedTuple):
    """Ā, the input coefficient γ (b̄ = γ·B·u) and their partial derivatives.

    ``None`` stands for a derivative that is identically zero. Derivatives with respect to the
    complex ``A`` are holomorphic (d/dA), those with respect to the real steps are ordinary.
    """

    Abar: np.ndarray
    gamma: object
    dAbar_ddeltaA: object
    dAbar_dA: object
    dgamma_ddelta: object
    dgamma_ddeltaA: object
    dgamma_dA: object


def discretize_ref(delta, deltaA, A, method: str) -> Disc:
    """Discretize one diagonal entry.

    ``delta`` (Δ, the input step) and ``deltaA`` (Δᴬ, the A step) broadcast against ``A``.
    """
    d, da = np.asarray(delta), np.asarray(deltaA)
    if method in ("mamba", "zoh", "dirac"):
        Abar = np.exp(da * A)
        dAb_dda, dAb_dA = A * Abar, da * Abar
        if method == "mamba":
            return Disc(Abar, d, dAb_dda, dAb_dA, np.ones_like(d), None, None)
        if method == "dirac":
            return Disc(Abar, 1.0, dAb_dda, dAb_dA, None, None, None)
        x = d * A
        e = np.exp(x)
        phi, dphi = _phi1(x, e)
        return Disc(Abar, d * phi, dAb_dda, dAb_dA, e, None, d * d * dphi)
    if method == "bilinear":
        den_a = 1 - da * A / 2
        Abar = (1 + da * A / 2) / den_a
        s = 1 / (1 - d * A / 2)
        return Disc(Abar, d * s, A / den_a**2, da / den_a**2, s * s, None, d * d * s * s / 2)
    if method == "s7":
        w = da * da + 0.5
        Abar = np.broadcast_to(1 - 1 / w, np.broadcast_shapes(w.shape, np.shape(A)))
        return Disc(Abar, 1.0, 2 * da / w**2, None, None, None, None)
    if method == "rglru":
        lnA = np.log(A)
        Abar = np.exp(da * lnA)
        dAb_dda, dAb_dA = Abar * lnA, da * Abar / A
        one_m = -np.expm1(2 * da * lnA)  # 1 - Abar^2, no cancellation as Abar -> 1
        ok = one_m > 0
        gamma = np.sqrt(np.where(ok, one_m, 0.0))
        # dγ/dĀ = -Ā/γ; zero where γ = 0 (Δᴬ <= 0), as lrnnx's kernel does.
        dg_dAb = np.where(ok, -Abar / np.where(ok, gamma, 1.0), 0.0)
        return Disc(Abar, gamma, dAb_dda, dAb_dA, None, dg_dAb * dAb_dda, dg_dAb * dAb_dA)
    raise ValueError(f"discretization must be one of {METHODS}, got {method!r}")


# Taylor coefficients 1/(k+1)! of phi1(x) = (e^x - 1)/x and (k+1)/(k+2)! of phi1'(x); 20 terms
# reach float64 rounding for |x| < 1/2 (real or complex), where the closed forms cancel.
_PHI_C = [1.0 / np.prod(np.arange(1.0, k + 2)) for k in range(20)]
_DPHI_C = [(k + 1) / np.prod(np.arange(1.0, k + 3)) for k in range(20)]


def _phi1(x, e):
    """(phi1(x), phi1'(x)) given e = e^x: power series near 0, closed forms elsewhere."""
    x = np.asarray(x)
    small = np.abs(x) < 0.5
    xs = np.where(small, x, 0)
    phi, dphi = np.zeros_like(xs), np.zeros_like(xs)
    for c, dc in zip(_PHI_C[::-1], _DPHI_C[::-1]):
        phi, dphi = phi * xs + c, dphi * xs + dc
    xb = np.where(small, 1, x)  # no 0/0 in the discarded branch
    big = np.expm1(xb) / xb
    return np.where(small, phi, big), np.where(small, dphi, (np.where(small, 1, e) - big) / xb)


def _softplus(x):
    return np.where(x <= 20, np.log1p(np.exp(np.minimum(x, 20))), x)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _bc_at(X, t, Dm):
    """B or C at time t as (batch or 1, Dm, N)."""
    if X.ndim == 2:
        return X[None]
    if X.ndim == 3:
        return X[:, None, :, t]
    G = X.shape[1]
    return np.repeat(X[:, :, :, t], Dm // G, axis=1)


def _bc_reduce(g, X, Dm):
    """Sum a per-(b, d, n) gradient at one time step down to X's per-time layout."""
    if X.ndim == 2:
        return g.sum(axis=0)
    if X.ndim == 3:
        return g.sum(axis=1)
    G = X.shape[1]
    return g.reshape(g.shape[0], G, Dm // G, g.shape[-1]).sum(axis=2)


def _prepare(u, delta, A, B, C, D, z, delta_bias, delta_softplus, deltaA, h0):
    cplx = any(x is not None and np.iscomplexobj(x) for x in (A, B, C, h0))
    ct = np.complex128 if cplx else np.float64

    def f(x, dt=np.float64):
        return None if x is None else np.asarray(x, dtype=dt)

    u, delta, D, z, delta_bias, deltaA = (f(x) for x in (u, delta, D, z, delta_bias, deltaA))
    A, B, C, h0 = (f(x, ct) for x in (A, B, C, h0))
    raw = delta + (0.0 if delta_bias is None else delta_bias[:, None])
    dt = _softplus(raw) if delta_softplus else raw
    dtA = dt if deltaA is None else deltaA
    return cplx, u, raw, dt, dtA, A, B, C, D, z, h0


def selective_scan_ref(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    discretization="mamba",
    deltaA=None,
    *,
    h0=None,
):
    """Oracle forward; returns float64 ``out`` (and the last state) like the public op."""
    out, last, _ = _forward(
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, discretization, deltaA, h0
    )
    return (out, last) if return_last_state else out


def _forward(u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0):
    cplx, u, _, dt, dtA, A, B, C, D, z, h0 = _prepare(
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, deltaA, h0
    )
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    h = np.zeros((Bsz, Dm, N), A.dtype) if h0 is None else h0.copy()
    hs = np.zeros((L + 1, Bsz, Dm, N), A.dtype)
    hs[0] = h
    y = np.zeros((Bsz, Dm, L))
    for t in range(L):
        dsc = discretize_ref(dt[:, :, t, None], dtA[:, :, t, None], A[None], method)
        h = dsc.Abar * h + dsc.gamma * _bc_at(B, t, Dm) * u[:, :, t, None]
        hs[t + 1] = h
        yc = np.sum(_bc_at(C, t, Dm) * h, axis=-1)
        y[:, :, t] = 2 * yc.real if cplx else yc
    pre = y + (0.0 if D is None else D[:, None] * u)
    out = pre * (z * _sigmoid(z)) if z is not None else pre
    return out, h, (hs, pre)


def selective_scan_vjp_ref(
    dout,
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    discretization="mamba",
    deltaA=None,
    *,
    h0=None,
    dlast_state=None,
):
    """Explicit reverse loop.

    Returns (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, ddeltaA, dh0).
    """
    method = discretization
    real_in = {
        k: (x is not None and not np.iscomplexobj(x)) for k, x in dict(A=A, B=B, C=C, h0=h0).items()
    }
    _, _, (hs, pre) = _forward(
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0
    )
    cplx, u, raw, dt, dtA, A, B, C, D, z, h0 = _prepare(
        u, delta, A, B, C, D, z, delta_bias, delta_softplus, deltaA, h0
    )
    Bsz, Dm, L = u.shape
    dout = np.asarray(dout, dtype=np.float64)
    if z is not None:
        sz = _sigmoid(z)
        dz = dout * pre * sz * (1 + z * (1 - sz))
        gy = dout * z * sz
    else:
        dz, gy = None, dout
    du = np.zeros_like(u) if D is None else D[:, None] * gy
    dD = None if D is None else np.sum(gy * u, axis=(0, 2))
    dA = np.zeros_like(A)
    dB, dC = np.zeros_like(B), np.zeros_like(C)
    d_dt = np.zeros_like(dt)
    d_dtA = np.zeros_like(dt)
    lam = np.zeros(hs.shape[1:], A.dtype)
    if dlast_state is not None:
        lam = lam + np.asarray(dlast_state, dtype=A.dtype)
    carry = lam  # conj(Ā_{t+1}) λ_{t+1} (plus dlast at the end)
    for t in range(L - 1, -1, -1):
        Ct, Bt = _bc_at(C, t, Dm), _bc_at(B, t, Dm)
        g = gy[:, :, t, None]
        lam = carry + (2 * np.conj(Ct) * g if cplx else Ct * g)
        h_t, h_prev = hs[t + 1], hs[t]
        gC = 2 * g * np.conj(h_t) if cplx else g * h_t
        dsc = discretize_ref(dt[:, :, t, None], dtA[:, :, t, None], A[None], method)
        ut = u[:, :, t, None]
        G_Ab = lam * np.conj(h_prev)
        G_gam = lam * np.conj(Bt) * ut
        gB = lam * np.conj(dsc.gamma) * ut
        du[:, :, t] += np.real(np.sum(lam * np.conj(dsc.gamma * Bt), axis=-1))
        if dsc.dgamma_ddelta is not None:
            d_dt[:, :, t] += np.real(np.sum(np.conj(dsc.dgamma_ddelta) * G_gam, axis=-1))
        d_dtA[:, :, t] += np.real(np.sum(np.conj(dsc.dAbar_ddeltaA) * G_Ab, axis=-1))
        if dsc.dgamma_ddeltaA is not None:
            d_dtA[:, :, t] += np.real(np.sum(np.conj(dsc.dgamma_ddeltaA) * G_gam, axis=-1))
        if dsc.dAbar_dA is not None:
            dA += np.sum(np.conj(dsc.dAbar_dA) * G_Ab, axis=0)
        if dsc.dgamma_dA is not None:
            dA += np.sum(np.conj(dsc.dgamma_dA) * G_gam, axis=0)
        if B.ndim == 2:
            dB += _bc_reduce(gB, B, Dm)
        else:
            dB[..., t] = _bc_reduce(gB, B, Dm)
        if C.ndim == 2:
            dC += _bc_reduce(gC, C, Dm)
        else:
            dC[..., t] = _bc_reduce(gC, C, Dm)
        carry = np.conj(dsc.Abar) * lam
    dh0 = None if h0 is None else carry
    if deltaA is None:
        d_dt, ddeltaA = d_dt + d_dtA, None
    else:
        ddeltaA = d_dtA
    # Softplus threshold rule: derivative sigmoid(x) below 20, 1 above.
    d_raw = d_dt * np.where(raw <= 20, _sigmoid(raw), 1.0) if delta_softplus else d_dt
    ddelta_bias = None if delta_bias is None else d_raw.sum(axis=(0, 2))
    dA, dB, dC, dh0 = (
        None if g is None else (g.real if real_in[k] else g)
        for k, g in zip(("A", "B", "C", "h0"), (dA, dB, dC, dh0))
    )
    return du, d_raw, dA, dB, dC, dD, dz, ddelta_bias, ddeltaA, dh0


# The dispatch entries: canonical arrays in the compute dtypes in (see _generic), those dtypes
# out. The oracle itself computes in float64/complex128.


def forward(xp, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, *, softplus, method):
    out, last = selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, softplus, True, method,
                                   deltaA, h0=h0)
    return xp.asarray(out, dtype=u.dtype), xp.asarray(last, dtype=A.dtype)


def backward(xp, dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast, *, softplus,
             method):
    g = selective_scan_vjp_ref(dout, u, delta, A, B, C, D, z, delta_bias, softplus, True, method,
                               deltaA, h0=h0, dlast_state=dlast)
    return tuple(None if x is None else xp.asarray(x) for x in g)
