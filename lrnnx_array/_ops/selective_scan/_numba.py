"""numba selective scan: a compiled loop over time per (batch, channel) row, rows in parallel.

Canonical entries as in ``_generic`` (u, delta, D, z, delta_bias, deltaA real; A, B, C, h0 in the
state dtype). Each row keeps its N states in registers/L1; Ā and γ come per (t, n) from the
numba twins of the numerics layer (``numba_support.sel_disc``; complex exponentials as
e^re (cos, sin)). Nothing of size (B, D, N, L) exists.

Backward, per task = (batch, group, slice of the group's channels): a first pass keeps the
state every ``_CK`` steps; then, chunk by chunk in reverse, the chunk's states, Ā and γ are
recomputed from its checkpoint into (T, N) buffers and the adjoint loop
λ_t = c_t·gy_t + conj(Ā_{t+1})·λ_{t+1} runs over them, accumulating every gradient. h_{t-1} is
read from the recomputed states, never obtained by dividing by Ā. Per-(b, d) gradients of shared
parameters (A, D-sized, constant B/C) go to per-row buffers summed afterwards; variable B/C
gradients are per (slice, batch, group) and summed over slices.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs
from .._shared.threads import threads as _threads

_kernel = nbs.kernel()
prange = nbs.numba().prange
(_cexp, _exp_phi1, _dphi1, _softplus, _sigmoid, _rg, _conj, sel_disc,
 sel_disc_grad, _vexp) = nbs.scalars()
_CK = 64  # checkpoint interval (steps) of the backward
# Scalars stay in the input precision (a literal 0 would promote float32 to float64 and make
# every exp a double one, 3x slower): hence the "x if flag else y" forms below.


@nbs.numba().njit(cache=True, inline="always")
def _disc_row(method, A, lnA, d, dt, dtA, ab, gm):
    """ab[n], gm[n] = (Abar, gamma) at (d, n) for every n: the method is branched on once per
    step, outside the loop over states (a branch per state cost ~5 ns)."""
    N = A.shape[1]
    if method == nbs.MAMBA or method == nbs.DIRAC:
        g = dt if method == nbs.MAMBA else dt * 0 + 1
        for n in range(N):
            ab[n] = _cexp(dtA * A[d, n])
            gm[n] = g
    elif method == nbs.ZOH:
        same = dtA == dt  # one step for both: Abar is the E of phi1's evaluation
        for n in range(N):
            E, phi = _exp_phi1(dt * A[d, n])
            ab[n] = E if same else _cexp(dtA * A[d, n])
            gm[n] = dt * phi
    else:
        for n in range(N):
            ab[n], gm[n] = sel_disc(method, A[d, n], dt, dtA, lnA[d, n])


@_kernel
def _fwd(u, delta, A, lnA, Bc, Bv, Cc, Cv, Dv, z, bias, dA_, h0, out, last,
         flags, method, G):
    """flags: (B_var, C_var, has_D, has_z, has_bias, has_deltaA, has_h0, softplus, cplx)."""
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    Dg = Dm // G
    bvar, cvar, hasD, hasz, hasb, hasdA, hash0, sp, cplx = flags
    for row in prange(Bsz * Dm):
        b, d = row // Dm, row % Dm
        g = d // Dg
        h = np.zeros(N, A.dtype)
        ab, gm = np.empty(N, A.dtype), np.empty(N, A.dtype)
        if hash0:
            for n in range(N):
                h[n] = h0[b, d, n]
        for t in range(L):
            dt = delta[b, d, t] + bias[d] if hasb else delta[b, d, t]
            if sp:
                dt = _softplus(dt)
            dtA = dA_[b, d, t] if hasdA else dt
            ut = u[b, d, t]
            y = ut * 0
            _disc_row(method, A, lnA, d, dt, dtA, ab, gm)
            for n in range(N):
                bn = Bv[b, g, t, n] if bvar else Bc[d, n]
                h[n] = ab[n] * h[n] + gm[n] * bn * ut
                cn = Cv[b, g, t, n] if cvar else Cc[d, n]
                y += (cn * h[n]).real
            if cplx:
                y = 2 * y
            if hasD:
                y += Dv[d] * ut
            if hasz:
                zt = z[b, d, t]
                y *= zt * _sigmoid(zt)
            out[b, d, t] = y
        for n in range(N):
            last[b, d, n] = h[n]


@_kernel
def _bwd(dout, u, delta, A, lnA, Bc, Bv, Cc, Cv, Dv, z, bias, dA_, h0, lam0,
         du, ddt, ddtA, dz, gA, gBc, gCc, gBv, gCv, gD, dh0, flags, method, G, S):
    """Gradients; flags as ``_fwd`` plus has_dlast. Shared-parameter gradients per row:
    gA/gBc/gCc (B, D, N), gD (B, D); variable B/C per slice: gBv/gCv (S, B, G, L, N)."""
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    Dg = Dm // G
    bvar, cvar, hasD, hasz, hasb, hasdA, hash0, sp, cplx, hasdl = flags
    nck = (L + _CK - 1) // _CK
    for task in prange(Bsz * G * S):
        b, rest = task // (G * S), task % (G * S)
        g, s = rest // S, rest % S
        for d in range(g * Dg + (Dg * s) // S, g * Dg + (Dg * (s + 1)) // S):
            ck = np.empty((nck, N), A.dtype)
            hs = np.empty((_CK + 1, N), A.dtype)
            Abs = np.empty((_CK, N), A.dtype)
            gms = np.empty((_CK, N), A.dtype)
            lam = np.zeros(N, A.dtype)
            acc_A = np.zeros(N, A.dtype)
            acc_B = np.zeros(N, A.dtype)
            acc_C = np.zeros(N, A.dtype)
            acc_D = u[b, d, 0] * 0
            h = np.zeros(N, A.dtype)
            ab, gm = np.empty(N, A.dtype), np.empty(N, A.dtype)
            if hash0:
                for n in range(N):
                    h[n] = h0[b, d, n]
            if hasdl:
                for n in range(N):
                    lam[n] = lam0[b, d, n]
            # pass 1: checkpoints (the state entering each chunk)
            for t in range(L):
                if t % _CK == 0:
                    for n in range(N):
                        ck[t // _CK, n] = h[n]
                dt = delta[b, d, t] + bias[d] if hasb else delta[b, d, t]
                if sp:
                    dt = _softplus(dt)
                dtA = dA_[b, d, t] if hasdA else dt
                ut = u[b, d, t]
                _disc_row(method, A, lnA, d, dt, dtA, ab, gm)
                for n in range(N):
                    bn = Bv[b, g, t, n] if bvar else Bc[d, n]
                    h[n] = ab[n] * h[n] + gm[n] * bn * ut
            # pass 2: chunks in reverse; carry = conj(Abar_{t+1}) lam_{t+1} (+ dlast) in lam
            for c in range(nck - 1, -1, -1):
                t0 = c * _CK
                T = min(_CK, L - t0)
                for n in range(N):
                    hs[0, n] = ck[c, n]
                for k in range(T):
                    t = t0 + k
                    dt = delta[b, d, t] + bias[d] if hasb else delta[b, d, t]
                    if sp:
                        dt = _softplus(dt)
                    dtA = dA_[b, d, t] if hasdA else dt
                    ut = u[b, d, t]
                    _disc_row(method, A, lnA, d, dt, dtA, Abs[k], gms[k])
                    for n in range(N):
                        bn = Bv[b, g, t, n] if bvar else Bc[d, n]
                        hs[k + 1, n] = Abs[k, n] * hs[k, n] + gms[k, n] * bn * ut
                for k in range(T - 1, -1, -1):
                    t = t0 + k
                    raw = delta[b, d, t] + bias[d] if hasb else delta[b, d, t]
                    dt = _softplus(raw) if sp else raw
                    dtA = dA_[b, d, t] if hasdA else dt
                    ut = u[b, d, t]
                    gy = dout[b, d, t]
                    if hasz:
                        zt = z[b, d, t]
                        sz = _sigmoid(zt)
                        y = ut * 0
                        for n in range(N):
                            cn = Cv[b, g, t, n] if cvar else Cc[d, n]
                            y += (cn * hs[k + 1, n]).real
                        pre = (2 * y if cplx else y) + (Dv[d] * ut if hasD else 0)
                        dz[b, d, t] = gy * pre * sz * (1 + zt * (1 - sz))
                        gy = gy * zt * sz
                    du_t = Dv[d] * gy if hasD else gy * 0
                    acc_D += gy * ut
                    ddt_t = gy * 0
                    ddtA_t = gy * 0
                    for n in range(N):
                        cn = Cv[b, g, t, n] if cvar else Cc[d, n]
                        bn = Bv[b, g, t, n] if bvar else Bc[d, n]
                        if cplx:
                            ln = lam[n] + 2 * _conj(cn) * gy
                            gc = 2 * gy * _conj(hs[k + 1, n])
                        else:
                            ln = lam[n] + cn * gy
                            gc = gy * hs[k + 1, n]
                        Ab, gam = Abs[k, n], gms[k, n]
                        pAt, pAA, pgt, pgtA, pgA = sel_disc_grad(method, A[d, n], dt, dtA,
                                                                 lnA[d, n], Ab, gam)
                        G_Ab = ln * _conj(hs[k, n])
                        G_gam = ln * _conj(bn) * ut
                        gb = ln * _conj(gam) * ut
                        du_t += (ln * _conj(gam * bn)).real
                        ddt_t += (_conj(pgt) * G_gam).real
                        ddtA_t += (_conj(pAt) * G_Ab).real + (_conj(pgtA) * G_gam).real
                        acc_A[n] += _conj(pAA) * G_Ab + _conj(pgA) * G_gam
                        if bvar:
                            gBv[s, b, g, t, n] += gb
                        else:
                            acc_B[n] += gb
                        if cvar:
                            gCv[s, b, g, t, n] += gc
                        else:
                            acc_C[n] += gc
                        lam[n] = _conj(Ab) * ln
                    du[b, d, t] = du_t
                    if hasdA:
                        ddtA[b, d, t] = ddtA_t
                    else:
                        ddt_t += ddtA_t
                    if sp:
                        ddt_t *= _sigmoid(raw) if raw <= 20 else 1
                    ddt[b, d, t] = ddt_t
            gD[b, d] = acc_D
            for n in range(N):
                gA[b, d, n] = acc_A[n]
                gBc[b, d, n] = acc_B[n]
                gCc[b, d, n] = acc_C[n]
                dh0[b, d, n] = lam[n]


def _groups(B, C):
    return next((int(X.shape[1]) for X in (B, C) if X.ndim == 4), 1)


def _bc(X, st, Bsz):
    """(constant (D, N) or dummy, variable as (B, G, L, N) or dummy, is_variable). The time-
    major copy makes each step's N values one cache line (strided by L they cost 2.5x)."""
    if X.ndim == 2:
        return X, np.zeros((1, 1, 1, 1), st), False
    X4 = X if X.ndim == 4 else X[:, None]
    return np.zeros((1, 1), st), np.ascontiguousarray(X4.transpose(0, 1, 3, 2)), True


def _opt(x, shape_ndim, dtype):
    return x if x is not None else np.zeros((1,) * shape_ndim, dtype)


def _lnA(A, method):
    if method == "rglru":  # A > 0 was checked (under check_finite); elsewhere NaN propagates
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(A)
    return np.zeros(A.shape, A.dtype)


def _args(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, softplus, method):
    rt, st = u.dtype, A.dtype
    Bsz = u.shape[0]
    Bc, Bv, bvar = _bc(B, st, Bsz)
    Cc, Cv, cvar = _bc(C, st, Bsz)
    flags = (bvar, cvar, D is not None, z is not None, delta_bias is not None,
             deltaA is not None, h0 is not None, bool(softplus), bool(np.iscomplexobj(A)))
    arrays = (u, delta, A, _lnA(A, method), Bc, Bv, Cc, Cv, _opt(D, 1, rt), _opt(z, 3, rt),
              _opt(delta_bias, 1, rt), _opt(deltaA, 3, rt), _opt(h0, 3, st))
    return arrays, flags


@nbs.launch
def forward(xp, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, *, softplus, method):
    """(out (B, D, L), last state (B, D, N))."""
    Bsz, Dm, L = u.shape
    arrays, flags = _args(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, softplus, method)
    out = np.empty((Bsz, Dm, L), u.dtype)
    last = np.empty((Bsz, Dm, A.shape[1]), A.dtype)
    _fwd(*arrays, out, last, flags, nbs.METHOD_CODE[method], _groups(B, C))
    return out, last


@nbs.launch
def backward(xp, dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast, *, softplus,
             method):
    """(du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, ddeltaA, dh0) as ``_generic.backward``."""
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    rt, st = u.dtype, A.dtype
    G = _groups(B, C)
    arrays, flags = _args(u, delta, A, B, C, D, z, delta_bias, deltaA, h0, softplus, method)
    bvar, cvar = flags[0], flags[1]
    # Channel slices per group: enough tasks for every core, none when B*G already is.
    # (max(1, .) in the divisor: batch 0 makes no tasks, and must not divide by zero.)
    S = max(1, min(Dm // G, -(-2 * _threads() // max(1, Bsz * G))))
    du, ddt = np.empty((Bsz, Dm, L), rt), np.empty((Bsz, Dm, L), rt)
    ddtA = np.empty((Bsz, Dm, L), rt) if deltaA is not None else np.zeros((1, 1, 1), rt)
    dz = np.empty((Bsz, Dm, L), rt) if z is not None else np.zeros((1, 1, 1), rt)
    gA, gBc, gCc, dh0 = (np.empty((Bsz, Dm, N), st) for _ in range(4))
    gD = np.empty((Bsz, Dm), rt)
    vshape = (S, Bsz, G, L, N)
    gBv = np.zeros(vshape, st) if bvar else np.zeros((1, 1, 1, 1, 1), st)
    gCv = np.zeros(vshape, st) if cvar else np.zeros((1, 1, 1, 1, 1), st)
    lam0 = np.zeros((1, 1, 1), st) if dlast is None else dlast
    _bwd(dout, *arrays, lam0, du, ddt, ddtA, dz, gA, gBc, gCc, gBv, gCv, gD, dh0,
         (*flags, dlast is not None), nbs.METHOD_CODE[method], G, S)
    dB = _var_grad(gBv, B) if bvar else gBc.sum(axis=0)
    dC = _var_grad(gCv, C) if cvar else gCc.sum(axis=0)
    dD = None if D is None else gD.sum(axis=0)
    ddelta_bias = None if delta_bias is None else ddt.sum(axis=(0, 2))
    return (du, ddt, gA.sum(axis=0), dB, dC, dD, None if z is None else dz, ddelta_bias,
            None if deltaA is None else ddtA, None if h0 is None else dh0)


def _var_grad(gv, X):
    g = gv.sum(axis=0) if gv.shape[0] > 1 else gv[0]
    return np.ascontiguousarray(g.transpose(0, 1, 3, 2)).reshape(X.shape)

