"""numba decode step of the selective state space: one compiled pass over the state.

Canonical arguments as in ``_generic`` (the public layouts, cast; ``state`` written in place).
Every layout is viewed as the headed one (a 3-d state is (rows, 1, dim, dstate)) and every
broadcast as a stride-0 view (nothing is copied, and nothing is broadcast that already has its
shape: the set-up around the kernel is most of a B=1 step). One kernel, in parallel over blocks
of (batch, head, dim) rows, takes a block's steps (Δ + dt_bias, softplus by numba_math's
polynomial form) in one vectorised loop, then per row Ā/γ inline over the row's states
(numba_math's e^x / e^x - 1 for real mamba/dirac/zoh/bilinear, exp_row for complex mamba/dirac,
``numba_support.sel_disc`` per state otherwise; Ā on deltaA when given; real mamba/dirac on a
C-contiguous state, and real zoh there without deltaA, as one loop over the block's states
instead of one per row), reads each state element once, writes it back at the state's
precision, and sums the output over dstate by a reassociable dot (the one place the order may
change), then D·x and the z gate over the block.
All checks ran in the public layer, so nothing in here raises: the state is either fully stepped
or, on a rejected call, untouched.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_math as nbm
from .._shared import numba_support as nbs

_kernel = nbs.kernel()
prange = nbs.numba().prange
_sigmoid, sel_disc = (nbs.scalars()[i] for i in (4, 7))
_M = nbm.helpers()
_exp, _expm1_exp, _exp_row, _vsoftplus, _zero, _one = (
    _M[k] for k in ("exp", "expm1_exp", "exp_row", "softplus", "zero_of", "one_of"))
_PB = 256  # dim entries per task (one batch row and head): the steps' buffer is one per task
_QR = 64  # rows of the flat forms' spread buffers (2 or 3 buffers of 64 x N elements)
_jit = nbs.numba().njit


_cexp = nbs.scalars()[0]
_overload, _types = nbs.numba().extending.overload, nbs.numba().core.types


# e^x and (e^x - 1, e^x) as functions of their own: numba's IR-level inlining of numba_math's
# forms into the prange body warned (NumbaIRAssumptionWarning, a variable "not in scope"); LLVM
# inlines these, and the loops around them still vectorise. The flags are runtime values, so
# the real-only branches are typed for complex A too: there the complex forms (not run).
def _e(u):
    """e^u."""


@_overload(_e, jit_options={"cache": True, "error_model": "numpy"})
def _ov_e(u):
    if isinstance(u, _types.Complex):
        return lambda u: _cexp(u)
    return lambda u: _exp(u)


def _em(u):
    """(e^u - 1, e^u)."""


@_overload(_em, jit_options={"cache": True, "error_model": "numpy"})
def _ov_em(u):
    if isinstance(u, _types.Complex):
        return lambda u: (_cexp(u) - 1, _cexp(u))
    return lambda u: _expm1_exp(u)


@_jit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _dot_re(xa, C, b, g, acc):
    """acc + sum_n re(xa[n] C[b, g, n]), reassociable: only this sum may be reordered, so LLVM
    vectorises it (8 lanes, one horizontal sum a row) while every e^x of the kernel keeps its
    exact Cody-Waite order. Four scalar partial sums a row cost ~0.1 ms of a ~0.25 ms step."""
    for n in range(xa.shape[0]):
        acc += (xa[n] * C[b, g, n]).real
    return acc


def _step_py(state, idx, has_idx, x, dt, z, dA, A, lnA, B, C, D, bias, flags, method, y):
    """state (R, nh, P, N); x, dt, z, dA (Bsz, nh, P); A, lnA (nh, P, N); B, C (Bsz, G, N);
    D, bias (nh, P); y (Bsz, nh, P). flags: (has_z, has_dA, has_D, has_bias, softplus,
    complex A, flat: state and A C-contiguous in the computation's dtype)."""
    Bsz, nh, P = x.shape
    N = A.shape[2]
    G = B.shape[1]
    has_z, has_dA, has_D, has_bias, sp, cplx, flat = flags
    # Per task a block of rows in three stages, each a loop LLVM vectorises: the block's steps
    # (Δ + dt_bias, softplus: per row on the way into its states it was a ~40 ns latency chain),
    # then per row Ā/γ inline over the row's states with the update and the row's output sum,
    # then D·x and the z gate over the block. Ā/γ: real mamba/dirac/zoh/bilinear written out per
    # state (numba_math's e^x, e^x - 1; np.exp is a scalar libm call); complex mamba/dirac by
    # exp_row (e^re (cos, sin) through real buffers); complex zoh/bilinear and the rglru/s7
    # gates per state by the scalar formulas.
    mamba = method == nbs.MAMBA
    vec_exp = (mamba or method == nbs.DIRAC) and not cplx
    cexp = (mamba or method == nbs.DIRAC) and cplx
    vec_zoh = method == nbs.ZOH and not cplx
    flat_zoh = vec_zoh and flat and not has_dA
    vec_bil = method == nbs.BILINEAR and not cplx
    nblk = (P + _PB - 1) // _PB
    for task in prange(Bsz * nh * nblk):
        b, rest = task // (nh * nblk), task % (nh * nblk)
        h, blk = rest // nblk, rest % nblk
        g = h // (nh // G)
        r = idx[b] if has_idx else b
        p0 = blk * _PB
        m = min(P, p0 + _PB) - p0
        ds = np.empty(_PB, x.dtype)  # the block's steps
        ys = np.empty(_PB, x.dtype)  # the block's outputs
        # Each row vector sliced once: a signed index p0 + j is wraparound-checked at every
        # access, and those loops did not vectorise (one thread, B32 D256 N16: 175 -> 140 us,
        # D·x alone 8 -> 1 us).
        dtr, xr, Br = dt[b, h, p0:p0 + m], x[b, h, p0:p0 + m], B[b, g]
        dAr = dA[b, h, p0:p0 + m] if has_dA else dA[0, 0, 0:0]  # (the (1, 1, 1) dummy)
        if has_bias:
            br = bias[h, p0:p0 + m]
            for j in range(m):
                ds[j] = dtr[j] + br[j]
        else:
            for j in range(m):
                ds[j] = dtr[j]
        if sp:
            for j in range(m):
                ds[j] = _vsoftplus(ds[j])
        xa = np.empty(N, A.dtype)  # a row's new states at the computation's precision
        nf = min(m, _QR) * N if flat_zoh or (vec_exp and flat) else 0
        es = np.empty(nf, x.dtype)  # the flat forms' spread steps,
        gb = np.empty(nf, A.dtype)  # input terms (zoh: B repeated per row)
        xs = np.empty(nf if flat_zoh else 0, x.dtype)  # and (zoh) inputs
        z0 = _zero(ds[0])  # (xt * 0 is float64 for float32 xt in numba)
        if vec_exp and flat:
            # The block's rows as one loop over their q*N contiguous states, the step and the
            # input term spread per element first: a loop per row of N = 16 pays its vector
            # loop's set-up and alias checks for one vector of work (one thread, B32 D256 N16:
            # 190 -> 175 us). The buffers are allocated at the task's top: arrays defined in
            # one branch and used in another ran the loops 1.5x slower than the per-row form.
            for q0 in range(0, m, _QR):
                q = min(_QR, m - q0)
                for j in range(q):
                    d = ds[q0 + j]
                    dtA = dAr[q0 + j] if has_dA else d
                    gx = d * xr[q0 + j] if mamba else xr[q0 + j]
                    for n in range(N):
                        es[j * N + n] = dtA
                        gb[j * N + n] = gx * Br[n]
                o = (p0 + q0) * N
                # (ravel: a view of a C-contiguous array; it would copy a strided one, which
                # never gets here, but it also types for those where reshape does not)
                sf = state[r, h].ravel()[o:o + q * N]
                af = A[h].ravel()[o:o + q * N]
                for i in range(q * N):
                    sf[i] = _e(es[i] * af[i]) * sf[i] + gb[i]
                for j in range(q):
                    ys[q0 + j] = _dot_re(sf[j * N:(j + 1) * N], C, b, g, z0)
        elif vec_exp:
            for j in range(m):
                p = p0 + j
                d = ds[j]
                dtA = dA[b, h, p] if has_dA else d
                gx = d * x[b, h, p] if mamba else x[b, h, p]
                for n in range(N):
                    v = _e(dtA * A[h, p, n]) * state[r, h, p, n] + gx * B[b, g, n]
                    xa[n] = v
                    state[r, h, p, n] = v
                ys[j] = _dot_re(xa, C, b, g, z0)
        elif flat_zoh:  # as the flat mamba form; Ā and γ from one e^x - 1 per state
            one = _one(z0)
            for j in range(min(m, _QR)):
                for n in range(N):
                    gb[j * N + n] = Br[n]
            for q0 in range(0, m, _QR):
                q = min(_QR, m - q0)
                for j in range(q):
                    d, xt = ds[q0 + j], xr[q0 + j]
                    for n in range(N):
                        es[j * N + n] = d
                        xs[j * N + n] = xt
                o = (p0 + q0) * N
                sf = state[r, h].ravel()[o:o + q * N]
                af = A[h].ravel()[o:o + q * N]
                for i in range(q * N):
                    u = es[i] * af[i]
                    em, e = _em(u)
                    gm = es[i] * (em / u if u != 0 else one)
                    sf[i] = e * sf[i] + gm * xs[i] * gb[i]
                for j in range(q):
                    ys[q0 + j] = _dot_re(sf[j * N:(j + 1) * N], C, b, g, z0)
        elif vec_zoh:
            one = _one(z0)
            for j in range(m):
                p = p0 + j
                d = ds[j]
                xt = x[b, h, p]
                if has_dA:  # Ā at deltaA, γ at Δ
                    dtA = dA[b, h, p]
                    for n in range(N):
                        u = d * A[h, p, n]
                        em = _em(u)[0]
                        gm = d * (em / u if u != 0 else one)
                        v = _e(dtA * A[h, p, n]) * state[r, h, p, n] + gm * xt * B[b, g, n]
                        xa[n] = v
                        state[r, h, p, n] = v
                else:
                    for n in range(N):
                        u = d * A[h, p, n]
                        em, e = _em(u)
                        gm = d * (em / u if u != 0 else one)
                        v = e * state[r, h, p, n] + gm * xt * B[b, g, n]
                        xa[n] = v
                        state[r, h, p, n] = v
                ys[j] = _dot_re(xa, C, b, g, z0)
        elif vec_bil:
            one = _one(z0)
            half = one / (one + one)
            for j in range(m):
                p = p0 + j
                d = ds[j]
                dtA = dA[b, h, p] if has_dA else d
                xt = x[b, h, p]
                for n in range(N):  # the numerics layer's form, as sel_disc writes it
                    xh = dtA * A[h, p, n] * half
                    ia = one / (one - xh)
                    gm = d * (one / (one - d * A[h, p, n] * half)) if has_dA else d * ia
                    v = ((one + xh) * ia) * state[r, h, p, n] + gm * xt * B[b, g, n]
                    xa[n] = v
                    state[r, h, p, n] = v
                ys[j] = _dot_re(xa, C, b, g, z0)
        elif cexp:
            ab = np.empty(N, A.dtype)
            sv = np.empty(1, x.dtype)  # exp_row's step vector (one step)
            wx = np.empty(N, x.dtype)  # exp_row's real work buffers
            ws = np.empty(N, x.dtype)
            wc = np.empty(N, x.dtype)
            for j in range(m):
                p = p0 + j
                d = ds[j]
                sv[0] = dA[b, h, p] if has_dA else d
                _exp_row(sv, A[h, p], ab, wx, ws, wc)
                gx = d * x[b, h, p] if mamba else x[b, h, p]  # (no literal: float32 stays)
                for n in range(N):
                    v = ab[n] * state[r, h, p, n] + gx * B[b, g, n]
                    xa[n] = v
                    state[r, h, p, n] = v
                ys[j] = _dot_re(xa, C, b, g, z0)
        else:
            for j in range(m):
                p = p0 + j
                d = ds[j]
                dtA = dA[b, h, p] if has_dA else d
                xt = x[b, h, p]
                for n in range(N):
                    Ab, gs = sel_disc(method, A[h, p, n], d, dtA, lnA[h, p, n])
                    v = Ab * state[r, h, p, n] + gs * xt * B[b, g, n]
                    xa[n] = v
                    state[r, h, p, n] = v
                ys[j] = _dot_re(xa, C, b, g, z0)
        if cplx:  # (conjugate-pair states: twice the real part)
            for j in range(m):
                ys[j] = ys[j] + ys[j]
        if has_D:
            Dr = D[h, p0:p0 + m]
            for j in range(m):
                ys[j] += Dr[j] * xr[j]
        if has_z:
            zr = z[b, h, p0:p0 + m]
            for j in range(m):
                zt = zr[j]
                ys[j] *= zt * _sigmoid(zt)
        yr = y[b, h, p0:p0 + m]
        for j in range(m):
            yr[j] = ys[j]


_step = _kernel(_step_py)
# Below a thread's worth: no pool wake-up. A copy under its own name (numba's cache keys a
# function's builds by signature, not by parallel=: see serial_kernel).
_step_serial = nbs.serial_kernel(_step_py)
# State elements from which both threads pay off (measured quiet: B1 D2048 N16, 2^15, ran
# 0.13 ms on one thread; the pool's wake-up is ~20 us).
PARALLEL_MIN = 1 << 15


_DUMMY3: dict = {}  # a (1, 1, 1) zero of each dtype for the absent optional arrays (read-only)
_NO_IDX = np.zeros(1, np.int64)
_NB_CHARS = frozenset(np.dtype(n).char for n in nbs.DTYPES)  # the dtypes numba has


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
    # (dtype.char, not dtype.name: .name is built in Python, ~3 us a call)
    if state.dtype.char not in _NB_CHARS:  # float16: numba has no such type; step a copy
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
    dummy3 = _DUMMY3.get(rt.char)
    if dummy3 is None:  # (an array's truth value is not "is it there")
        dummy3 = _DUMMY3.setdefault(rt.char, np.zeros((1, 1, 1), rt))
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
             bool(softplus), bool(np.iscomplexobj(A)),
             st.flags.c_contiguous and Av.flags.c_contiguous and st.dtype == Av.dtype)
    idx_ = _NO_IDX if idx is None else idx
    kernel = _step if st.size >= PARALLEL_MIN else _step_serial
    kernel(st, idx_, idx is not None, xs, dtv, zv, dAv, Av, lnA, Bv, Cv, Dv, bv, flags,
           nbs.METHOD_CODE[method], y)
    return y if headed else y[:, 0]
