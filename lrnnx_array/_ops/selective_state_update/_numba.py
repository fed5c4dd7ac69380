"""numba decode step of the selective state space: one compiled pass over the state.

Canonical arguments as in ``_generic`` (the public layouts, cast; ``state`` written in place).
Every layout is viewed as the headed one (a 3-d state is (rows, 1, dim, dstate)) and every
broadcast as a stride-0 view (nothing is copied, and nothing is broadcast that already has its
shape: the set-up around the kernel is most of a B=1 step). One kernel, in parallel over blocks
of (batch, head, dim) rows, takes a block's steps (Δ + dt_bias, softplus by numba_math's
polynomial form), then per row Ā/γ over the row's states (the vectorisable forms for
mamba/dirac/zoh/bilinear, ``numba_support.sel_disc`` per state otherwise; Ā on deltaA when
given), reads each state element once, writes it back at the state's precision, and sums the
output over dstate, then D·x and the z gate. All checks ran in the public layer, so nothing in
here raises: the state is either fully stepped or, on a rejected call, untouched.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_kernel = nbs.kernel()
prange = nbs.numba().prange
_sigmoid, sel_disc = (nbs.scalars()[i] for i in (4, 7))
_M = nbm.helpers()
_exp_row, _zoh_outer, _vsoftplus, _zero, _one = (
    _M[k] for k in ("exp_row", "zoh_outer", "softplus", "zero_of", "one_of"))
_PB = 64  # dim entries per task (one batch row and head): the steps' buffer is one per task


def _step_py(state, idx, has_idx, x, dt, z, dA, A, lnA, B, C, D, bias, flags, method, y):
    """state (R, nh, P, N); x, dt, z, dA (Bsz, nh, P); A, lnA (nh, P, N); B, C (Bsz, G, N);
    D, bias (nh, P); y (Bsz, nh, P)."""
    Bsz, nh, P = x.shape
    N = A.shape[2]
    G = B.shape[1]
    has_z, has_dA, has_D, has_bias, sp, cplx = flags
    # A-bar and gamma over the row's N states in loops of their own that LLVM vectorises:
    # mamba/dirac by numba_math's exp_row (real, or complex as e^re (cos, sin)), real zoh
    # by its zoh_outer (e^x and phi1 by the polynomial e^x - 1), real bilinear as written.
    # np.exp is a scalar libm call here, and one branch on the method per state cost ~5 ns:
    # with them the step ran 2x the generic path's NumPy passes. Complex zoh/bilinear and the
    # rglru/s7 gates: per state by the scalar formulas.
    vec_exp = method == nbs.MAMBA or method == nbs.DIRAC
    vec_zoh = method == nbs.ZOH and not cplx
    vec_bil = method == nbs.BILINEAR and not cplx
    nblk = (P + _PB - 1) // _PB
    for task in prange(Bsz * nh * nblk):
        b, rest = task // (nh * nblk), task % (nh * nblk)
        h, blk = rest // nblk, rest % nblk
        g = h // (nh // G)
        r = idx[b] if has_idx else b
        p0 = blk * _PB
        p1 = min(P, p0 + _PB)
        ds = np.empty(_PB, x.dtype)  # the block's steps, softplus by the polynomial form
        for j in range(p1 - p0):
            v = dt[b, h, p0 + j] + bias[h, p0 + j] if has_bias else dt[b, h, p0 + j]
            ds[j] = _vsoftplus(v) if sp else v
        xa = np.empty(N, A.dtype)  # the new states
        ab = np.empty(N, A.dtype)
        gm = np.empty(N, A.dtype)
        sv = np.empty(1, x.dtype)  # exp_row's / zoh_outer's step vector (one step)
        wx = np.empty(N, x.dtype)  # exp_row's real work buffers (complex A)
        ws = np.empty(N, x.dtype)
        wc = np.empty(N, x.dtype)
        for p in range(p0, p1):
            d = ds[p - p0]
            dtA = dA[b, h, p] if has_dA else d
            xt = x[b, h, p]
            acc = _zero(xt)  # (xt * 0 is float64 for float32 xt in numba)
            if vec_zoh:
                sv[0] = d
                _zoh_outer(sv, A[h, p], 1, ab, gm)
                if has_dA:
                    sv[0] = dtA
                    _exp_row(sv, A[h, p], ab, wx, ws, wc)
                for n in range(N):
                    xa[n] = ab[n] * state[r, h, p, n] + gm[n] * xt * B[b, g, n]
                    state[r, h, p, n] = xa[n]
            elif vec_bil:
                one = _one(d)
                half = one / (one + one)
                for n in range(N):  # the numerics layer's form, as sel_disc writes it
                    xh = dtA * A[h, p, n] * half
                    ia = one / (one - xh)
                    ab[n] = (one + xh) * ia
                    gm[n] = d * ia
                if has_dA:
                    for n in range(N):
                        gm[n] = d * (one / (one - d * A[h, p, n] * half))
                for n in range(N):
                    xa[n] = ab[n] * state[r, h, p, n] + gm[n] * xt * B[b, g, n]
                    state[r, h, p, n] = xa[n]
            elif vec_exp:
                sv[0] = dtA
                _exp_row(sv, A[h, p], ab, wx, ws, wc)
                gx = d * xt if method == nbs.MAMBA else xt  # (no literal: float32 stays)
                for n in range(N):
                    xa[n] = ab[n] * state[r, h, p, n] + gx * B[b, g, n]
                    state[r, h, p, n] = xa[n]
            else:
                for n in range(N):
                    Ab, gs = sel_disc(method, A[h, p, n], d, dtA, lnA[h, p, n])
                    xa[n] = Ab * state[r, h, p, n] + gs * xt * B[b, g, n]
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
# State elements from which both threads pay off (measured quiet: B1 D2048 N16, 2^15, ran
# 0.13 ms on one thread; the pool's wake-up is ~20 us).
PARALLEL_MIN = 1 << 15


_DUMMY3: dict = {}  # a (1, 1, 1) zero of each dtype for the absent optional arrays (read-only)
_NO_IDX = np.zeros(1, np.int64)


def _fit(v, shape):
    return v if v.shape == shape else np.broadcast_to(v, shape)


def _row_view(v, shape, headed, dummy3):
    """v (None: the dummy) broadcast to x's ``shape``, as (Bsz, nh, P)."""
    if v is None:
        return dummy3
    v = _fit(v, shape)
    return v if headed else v[:, None]


@nbs.launch(min_elems=PARALLEL_MIN)
def step(xp, state, idx, x, dt, z, deltaA, A, B, C, D, dt_bias, *, softplus, method):
    """Step the selected rows of ``state`` in place; returns out (x's shape and dtype)."""
    if state.dtype.name not in nbs.DTYPES:  # float16: numba has no such type; step a copy
        work = state.astype(A.dtype)
        y = step(xp, work, idx, x, dt, z, deltaA, A, B, C, D, dt_bias, softplus=softplus,
                 method=method)
        state[...] = work
        return y
    headed = state.ndim == 4
    # Views, not copies, and no broadcast_to where a shape is already the target (each costs
    # ~2.6 us, and a decode step at B=1 is ~30 us of such set-up around a 2 us kernel);
    # contiguous where the caller's arrays are (a known unit stride lets LLVM vectorise).
    st = state if headed else state[:, None]  # a view always (C-contiguous stays so)
    nh, P, N = st.shape[1:]
    xs = x if headed else x[:, None]
    rt = x.dtype
    dummy3 = _DUMMY3.get(rt.name)
    if dummy3 is None:  # (an array's truth value is not "is it there")
        dummy3 = _DUMMY3.setdefault(rt.name, np.zeros((1, 1, 1), rt))
    dtv = _row_view(dt, x.shape, headed, dummy3)
    zv = _row_view(z, x.shape, headed, dummy3)
    dAv = _row_view(deltaA, x.shape, headed, dummy3)
    inner = (nh, P)
    Av = _fit(A, state.shape[1:])
    if Av.shape != (nh, P, N):
        Av = Av.reshape((nh, P, N))
    if not Av.flags.c_contiguous:
        Av = np.ascontiguousarray(Av)
    Dv = dummy3[0] if D is None else _fit(D, state.shape[1:-1]).reshape(inner)
    bv = dummy3[0] if dt_bias is None else _fit(dt_bias, state.shape[1:-1]).reshape(inner)
    Bv = B[:, None, :] if B.ndim == 2 else B
    Cv = C[:, None, :] if C.ndim == 2 else C
    if not Bv.flags.c_contiguous:
        Bv = np.ascontiguousarray(Bv)
    if not Cv.flags.c_contiguous:
        Cv = np.ascontiguousarray(Cv)
    if method == "rglru":
        with np.errstate(divide="ignore", invalid="ignore"):
            lnA = np.log(Av)
    else:
        lnA = Av
    y = np.empty(xs.shape, rt)
    flags = (z is not None, deltaA is not None, D is not None, dt_bias is not None,
             bool(softplus), bool(np.iscomplexobj(A)))
    idx_ = _NO_IDX if idx is None else idx
    kernel = _step if st.size >= PARALLEL_MIN else _step_serial
    kernel(st, idx_, idx is not None, xs, dtv, zv, dAv, Av, lnA, Bv, Cv, Dv, bv, flags,
           nbs.METHOD_CODE[method], y)
    return y if headed else y[:, 0]
