"""numba decode step of the selective state space: one compiled pass over the state.

Canonical arguments as in ``_generic`` (the public layouts, cast; ``state`` written in place).
Every layout is viewed as the headed one (a 3-d state is (rows, 1, dim, dstate)) and every
broadcast as a stride-0 view (nothing is copied); then one kernel, in parallel over the
(batch, head, dim) rows, reads each state element once, steps it with Ā/γ of the numba twins of
the numerics layer (``numba_support.sel_disc``, the step on Δ + dt_bias after softplus, Ā on
deltaA when given) at the computation's precision, writes it back at the state's, and sums the
output over dstate, then D·x and the z gate. All checks ran in the public layer, so nothing in
here raises: the state is either fully stepped or, on a rejected call, untouched.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_kernel = nbs.kernel()
prange = nbs.numba().prange
_softplus, _sigmoid, sel_disc = (nbs.scalars()[i] for i in (3, 4, 7))


_vexp = nbs.scalars()[9]
_zero = nbm.helpers()["zero_of"]
_ROWS = 64  # rows per task: the per-task (N,) buffers are allocated once per task


def _step_py(state, idx, has_idx, x, dt, z, dA, A, lnA, B, C, D, bias, flags, method, y):
    """state (R, nh, P, N); x, dt, z, dA (Bsz, nh, P); A, lnA (nh, P, N); B, C (Bsz, G, N);
    D, bias (nh, P); y (Bsz, nh, P)."""
    Bsz, nh, P = x.shape
    N = A.shape[2]
    G = B.shape[1]
    has_z, has_dA, has_D, has_bias, sp, cplx = flags
    # Real mamba/dirac: A-bar = e^(dtA A) over the row's N states by the vectorisable exp
    # (a scalar exp per state cost 3x the whole generic step); the rest per state.
    vec = not cplx and (method == nbs.MAMBA or method == nbs.DIRAC)
    rows = Bsz * nh * P
    for task in prange((rows + _ROWS - 1) // _ROWS):
        xa = np.empty(N, A.dtype)  # exponents, then the new states
        ab = np.empty(N, A.dtype)
        for row in range(task * _ROWS, min(rows, (task + 1) * _ROWS)):
            b, rest = row // (nh * P), row % (nh * P)
            h, p = rest // P, rest % P
            g = h // (nh // G)
            r = idx[b] if has_idx else b
            d = dt[b, h, p] + bias[h, p] if has_bias else dt[b, h, p]
            if sp:
                d = _softplus(d)
            dtA = dA[b, h, p] if has_dA else d
            xt = x[b, h, p]
            acc = _zero(xt)  # (xt * 0 is float64 for float32 xt in numba)
            if vec:
                for n in range(N):
                    xa[n] = dtA * A[h, p, n]
                for n in range(N):  # loops of their own: LLVM vectorises np.exp and the update
                    ab[n] = np.exp(xa[n])
                gx = d * xt if method == nbs.MAMBA else xt  # (no literal: float32 stays)
                for n in range(N):
                    xa[n] = ab[n] * state[r, h, p, n] + gx * B[b, g, n]
                    state[r, h, p, n] = xa[n]
            else:
                for n in range(N):
                    Ab, gm = sel_disc(method, A[h, p, n], d, dtA, lnA[h, p, n])
                    xa[n] = Ab * state[r, h, p, n] + gm * xt * B[b, g, n]
                    state[r, h, p, n] = xa[n]
            # sum_n C new over four partial sums (one add chain of N steps is latency-bound)
            a0, a1, a2, a3 = acc, acc, acc, acc
            n4 = N - N % 4
            for n in range(0, n4, 4):
                a0 += (xa[n] * C[b, g, n]).real
                a1 += (xa[n + 1] * C[b, g, n + 1]).real
                a2 += (xa[n + 2] * C[b, g, n + 2]).real
                a3 += (xa[n + 3] * C[b, g, n + 3]).real
            for n in range(n4, N):
                a0 += (xa[n] * C[b, g, n]).real
            acc = (a0 + a1) + (a2 + a3)
            if cplx:
                acc = acc + acc
            if has_D:
                acc += D[h, p] * xt
            if has_z:
                zt = z[b, h, p]
                acc *= zt * _sigmoid(zt)
            y[b, h, p] = acc


_step = _kernel(_step_py)
_step_serial = nbs.kernel(parallel=False)(_step_py)  # below a thread's worth: no pool wake-up


@nbs.launch
def step(xp, state, idx, x, dt, z, deltaA, A, B, C, D, dt_bias, *, softplus, method):
    """Step the selected rows of ``state`` in place; returns out (x's shape and dtype)."""
    if state.dtype.name not in nbs.DTYPES:  # float16: numba has no such type; step a copy
        work = state.astype(A.dtype)
        y = step(xp, work, idx, x, dt, z, deltaA, A, B, C, D, dt_bias, softplus=softplus,
                 method=method)
        state[...] = work
        return y
    headed = state.ndim == 4
    # Contiguous views where the caller's arrays are (a known unit stride lets LLVM vectorise).
    st = state if headed else state[:, None]  # a view always (C-contiguous stays so)
    nh, P, N = st.shape[1:]
    xs = x if headed else x[:, None]
    dtv, zv, dAv = (None if v is None else (np.broadcast_to(v, x.shape) if headed else
                                            np.broadcast_to(v, x.shape)[:, None])
                    for v in (dt, z, deltaA))
    Av = np.ascontiguousarray(np.broadcast_to(A, state.shape[1:]).reshape((nh, P, N)))
    inner = (nh, P)
    rt = x.dtype
    dummy3 = np.zeros((1, 1, 1), rt)
    Dv = np.zeros((1, 1), rt) if D is None else np.broadcast_to(D, state.shape[1:-1]).reshape(
        inner)
    bv = np.zeros((1, 1), rt) if dt_bias is None else np.broadcast_to(
        dt_bias, state.shape[1:-1]).reshape(inner)
    Bv, Cv = (np.ascontiguousarray(M[:, None, :] if M.ndim == 2 else M) for M in (B, C))
    if method == "rglru":
        with np.errstate(divide="ignore", invalid="ignore"):
            lnA = np.log(Av)
    else:
        lnA = Av
    y = np.empty(xs.shape, rt)
    flags = (z is not None, deltaA is not None, D is not None, dt_bias is not None,
             bool(softplus), bool(np.iscomplexobj(A)))
    idx_ = np.zeros(1, np.int64) if idx is None else idx
    kernel = _step if st.size >= nbs.PARALLEL_MIN_ELEMS else _step_serial
    kernel(st, idx_, idx is not None, xs, dtv, dummy3 if zv is None else zv,
          dummy3 if dAv is None else dAv, Av, lnA, Bv, Cv, Dv, bv, flags,
          nbs.METHOD_CODE[method], y)
    return y if headed else y[:, 0]
