"""The numba selective scan VJP's reverse step over one checkpoint tile (the split VJP's pass B
of ``_numba_split_bwd``; ``_numba._bwd``'s pass 2 writes the same body out in place, a call
per tile having cost it 6-10 %): the tile's states from its
checkpoint, the z gate, the adjoint lam_t = c_t gy_t + conj(Abar_{t+1}) lam_{t+1} and every
gradient of its steps."""

from __future__ import annotations

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs
from ._numba_tiles import (
    _adj_tile,
    _adj_tile_md,
    _bu_tile,
    _disc_tile,
    _gather_tile,
    _partials_tile,
    _rec_tile,
    _steps_tile,
)

_M = nbm.helpers()
_vsigmoid, _zero = _M["sigmoid"], _M["zero_of"]


@nbs.numba().njit(cache=True, error_model="numpy")
def _scatter_tile(T, N, gt, gv, s, b, g, t0, put):
    """gv[s, b, g, n, t0 + k] += gt[k N + n] (= with ``put``: the slot's only writer): a
    tile's variable B or C gradient, n outer over a row view of gv (unit stride): 0.5 ns per
    element; k outer, indexing the 5-D array per element, took 3."""
    for n in range(N):
        row = gv[s, b, g, n, t0:t0 + T]
        if put:
            for k in range(T):
                row[k] = gt[k * N + n]
        else:
            for k in range(T):
                row[k] += gt[k * N + n]


@nbs.numba().njit(cache=True, error_model="numpy")
def _rev_tile(dout, u, delta, A, lnA, Bc, Bv, Cc, Cv, Dv, z, bias, dA_, du, ddt, ddtA, dz,
              gBv, gCv, flags, method, b, g, d, s, t0, T, two, put, h, hs, Abs, gms, bu,
              wx, ws, wc, dts, dtAs, us, gys, du_, ddt_, ddtA_, Bt, Ct, gBt, gCt, pAt, pAA,
              pgt, pgtA, pgA, lam, acc_A, acc_B, acc_C):
    """Steps t0 .. t0 + T - 1 of row (b, d) in reverse. On entry h and hs[:N] hold the state
    before step t0 and lam the carry conj(Abar_{t0+T}) lam_{t0+T}; on return lam is the carry
    into step t0 - 1, acc_A/B/C have the tile's shared-parameter gradients added, and the
    return value is the tile's sum of gy u (D's gradient)."""
    N = A.shape[1]
    bvar, cvar, hasD, hasz, hasb, hasdA, hash0, sp, cplx, hasdl = flags
    acc_D = 0.0  # (float64, as the unsplit row sum always was)
    _steps_tile(delta, bias, dA_, b, d, t0, T, hasb, sp, hasdA, dts, dtAs)
    for k in range(T):
        us[k] = u[b, d, t0 + k]
    _disc_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, wx, ws, wc)
    _bu_tile(T, N, gms, us, Bc, Bv, bvar, b, g, d, t0, bu)
    _rec_tile(T, N, Abs, bu, h, hs, N)
    _gather_tile(T, N, Bc, Bv, bvar, b, g, d, t0, Bt)
    _gather_tile(T, N, Cc, Cv, cvar, b, g, d, t0, Ct)
    md = method == nbs.MAMBA or method == nbs.DIRAC
    if not md:
        _partials_tile(method, A, lnA, d, dts, dtAs, T, Abs, gms, pAt, pAA, pgt,
                       pgtA, pgA)
    for k in range(T):  # the z gate: dy before it, dz
        t = t0 + k
        gy = dout[b, d, t]
        if hasz:
            y = _zero(us[k])
            for n in range(N):
                y += (Ct[k * N + n] * hs[(k + 1) * N + n]).real
            zt = z[b, d, t]
            sz = _vsigmoid(zt)
            pre = (2 * y if cplx else y) + (Dv[d] * us[k] if hasD else 0)
            dz[b, d, t] = gy * pre * sz * (1 + zt * (1 - sz))
            gy = gy * zt * sz
        gys[k] = gy
        acc_D += gy * us[k]
    # bu (the recurrence's input) is spent: scratch for the adjoints lam_t
    if md:
        _adj_tile_md(T, N, two, method == nbs.MAMBA, hs, Abs, Bt, Ct, A[d], dts,
                     dtAs, us, gys, lam, acc_A, bu, gBt, gCt, du_, ddt_, ddtA_)
    else:
        _adj_tile(T, N, two, hs, Abs, gms, Bt, Ct, pAt, pAA, pgt, pgtA, pgA, us,
                  gys, lam, acc_A, bu, gBt, gCt, du_, ddt_, ddtA_)
    if bvar:
        _scatter_tile(T, N, gBt, gBv, s, b, g, t0, put)
    else:
        for k in range(T):
            for n in range(N):
                acc_B[n] += gBt[k * N + n]
    if cvar:
        _scatter_tile(T, N, gCt, gCv, s, b, g, t0, put)
    else:
        for k in range(T):
            for n in range(N):
                acc_C[n] += gCt[k * N + n]
    for k in range(T):
        t = t0 + k
        du[b, d, t] = du_[k] + (Dv[d] * gys[k] if hasD else _zero(gys[k]))
        ddt_t = ddt_[k]
        if hasdA:
            ddtA[b, d, t] = ddtA_[k]
        else:
            ddt_t += ddtA_[k]
        if sp:
            raw = delta[b, d, t] + bias[d] if hasb else delta[b, d, t]
            ddt_t *= _vsigmoid(raw) if raw <= 20 else 1
        ddt[b, d, t] = ddt_t
    return acc_D
