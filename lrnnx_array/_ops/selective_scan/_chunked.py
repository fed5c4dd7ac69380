"""The chunked time-major loops of the selective scan's array-API path (see ``_generic``).

Layouts: per-step inputs (L, B, G, Dg), parameters (G, N, Dg), states (B, G, N, Dg), variable
B/C (L, B, G, N). Chunks of T steps keep the (T, B, G, N, Dg) arrays in L2; the forward keeps
one state, the backward (``_chunked_bwd``) the chunk-boundary states (recomputing inside each
chunk). Ā and γ come from the numerics layer (``selective_disc``).
"""

from __future__ import annotations

from typing import NamedTuple

from ..._backend import is_numpy
from .._shared.numerics import selective_disc
from .._shared.threads import get_pool as _get_pool
from .._shared.threads import threads as _threads

# Elements of one (T, B, G, N, Dg) chunk array: 512 KB at float32 keeps the handful of chunk
# arrays in L2 while amortising the ~20 Python-level calls per chunk. Measured (2 cores, target
# shape, single thread, min of 8): 2^15 28 ms, 2^16 22, 2^17 20-22, 2^18 31, 2^19 36.
_CHUNK_ELEMS = 1 << 17
_MIN_CHUNK = 8
# Threads (one per core, over batch rows or channel slices) pay off only when each step's ufunc
# calls are long enough to hide the GIL-held Python overhead: B*D*N = 8192 ran 20 ms on one
# thread vs 22-33 ms on two; B*D*N = 65536 ran 61 ms on two vs 71 ms on one.
_THREAD_MIN_STATE = 16384


def _is_complex(xp, x) -> bool:
    return hasattr(x, "dtype") and xp.isdtype(x.dtype, "complex floating")


def _conj(xp, x):
    return xp.conj(x) if _is_complex(xp, x) else x


def _re(xp, x):
    return xp.real(x) if _is_complex(xp, x) else x


# ---------------------------------------------------------------------------------------------
# Problem in time-major layout.


class Problem(NamedTuple):
    """Everything the chunk loops need, already cast and time-major.

    ``dt``, ``dtA``, ``u``: (L, B, G, Dg); ``dtA`` is None when Δᴬ = Δ. ``A``: (G, N, Dg).
    ``Bm``/``Cm``: constant (G, N, Dg) or variable (L, B, G, N), flagged by ``B_var``/``C_var``.
    ``h0``: (B, G, N, Dg) or None. States and state-shaped gradients are (…, G, N, Dg).
    """

    dt: object
    dtA: object
    u: object
    A: object
    Bm: object
    Cm: object
    B_var: bool
    C_var: bool
    h0: object
    method: str
    cplx: bool


def _contiguous(xp, view):
    """A C-contiguous copy. (asarray(copy=True) keeps the strided layout of a permuted view,
    and every ufunc output then inherits it: the recurrence rows must be contiguous.)"""
    out = xp.empty(tuple(view.shape), dtype=view.dtype)
    out[...] = view
    return out


def time_major(xp, x, G):
    """(B, D, L) -> contiguous (L, B, G, D/G)."""
    Bsz, Dm, L = x.shape
    return _contiguous(xp, xp.reshape(xp.permute_dims(x, (2, 0, 1)), (L, Bsz, G, Dm // G)))


def from_time_major(xp, x):
    """(L, B, G, Dg) -> (B, D, L)."""
    L, Bsz, G, Dg = x.shape
    return xp.permute_dims(xp.reshape(x, (L, Bsz, G * Dg)), (1, 2, 0))


def bc_time_major(xp, X, G):
    """Variable B/C (B, N, L) or (B, G, N, L) -> (L, B, G, N)."""
    if X.ndim == 3:
        X = xp.expand_dims(X, axis=1)
    return _contiguous(xp, xp.permute_dims(X, (3, 0, 1, 2)))


def param_layout(xp, X, G):
    """(D, N) -> contiguous (G, N, Dg)."""
    Dm, N = X.shape
    return _contiguous(xp, xp.permute_dims(xp.reshape(X, (G, Dm // G, N)), (0, 2, 1)))


def param_unlayout(xp, X):
    """(G, N, Dg) -> (D, N)."""
    G, N, Dg = X.shape
    return xp.reshape(xp.permute_dims(X, (0, 2, 1)), (G * Dg, N))


def state_layout(xp, h, G):
    """(B, D, N) -> contiguous (B, G, N, Dg)."""
    Bsz, Dm, N = h.shape
    return _contiguous(xp, xp.permute_dims(xp.reshape(h, (Bsz, G, Dm // G, N)), (0, 1, 3, 2)))


def state_unlayout(xp, h):
    """(B, G, N, Dg) -> (B, D, N)."""
    Bsz, G, N, Dg = h.shape
    return xp.reshape(xp.permute_dims(h, (0, 1, 3, 2)), (Bsz, G * Dg, N))


def make_problem(xp, u, dt, dtA, A, B, C, h0, G, method) -> Problem:
    B_var, C_var = B.ndim > 2, C.ndim > 2
    return Problem(
        dt=time_major(xp, dt, G),
        dtA=None if dtA is None else time_major(xp, dtA, G),
        u=time_major(xp, u, G),
        A=param_layout(xp, A, G),
        Bm=bc_time_major(xp, B, G) if B_var else param_layout(xp, B, G),
        Cm=bc_time_major(xp, C, G) if C_var else param_layout(xp, C, G),
        B_var=B_var,
        C_var=C_var,
        h0=None if h0 is None else state_layout(xp, h0, G),
        method=method,
        cplx=_is_complex(xp, A),
    )


class _Blk(NamedTuple):
    """One (batch range, channel-in-group range) block of a Problem, chunk-sliceable."""

    dt: object
    dtA: object
    u: object
    A: object  # (1, 1, G, N, dg): broadcasts against (T, b, G, N, dg)
    Bm: object
    Cm: object


def _block(xp, P: Problem, bs: slice, ds: slice) -> _Blk:
    def pd(x):
        return None if x is None else x[:, bs, :, ds]

    def par(x):
        return xp.expand_dims(xp.expand_dims(x[:, :, ds], axis=0), axis=0)

    return _Blk(
        pd(P.dt),
        pd(P.dtA),
        pd(P.u),
        par(P.A),
        P.Bm[:, bs, ...] if P.B_var else par(P.Bm),
        P.Cm[:, bs, ...] if P.C_var else par(P.Cm),
    )


def _chunk(xp, blk: _Blk, P: Problem, t0: int, t1: int, derivs: bool):
    """Per-chunk inputs, discretization and b̄ (T, b, G, N, dg), freshly allocated."""

    def tt(x):
        return None if x is None else xp.expand_dims(x[t0:t1, ...], axis=-2)

    dt, u = tt(blk.dt), tt(blk.u)  # (T, b, G, 1, dg)
    dtA = dt if blk.dtA is None else tt(blk.dtA)
    Bt = xp.expand_dims(blk.Bm[t0:t1, ...], axis=-1) if P.B_var else blk.Bm
    disc = selective_disc(xp, P.method, blk.A, dt, None if blk.dtA is None else dtA, grad=derivs)
    g = disc.gamma
    gu = u if isinstance(g, float) else g * u  # g may be (T, b, G, 1, dg) or (..., N, dg)
    bb = gu * Bt
    shape = tuple(u.shape[:3]) + (blk.A.shape[-2], u.shape[-1])
    if tuple(bb.shape) != shape:  # e.g. dirac/s7 with all-constant factors: make it writable
        bb = bb + xp.zeros(shape, dtype=bb.dtype)
    return dt, dtA, u, Bt, disc, bb


def _recur(xp, Abar, bb, h):
    """In place: bb[t] <- Abar[t]*bb[t-1] + bb[t] with bb[-1] = h. Two ufunc calls per step."""
    T = bb.shape[0]
    bb[0, ...] += Abar[0, ...] * h
    for t in range(1, T):
        bb[t, ...] += Abar[t, ...] * bb[t - 1, ...]


def _contract_C(xp, H, Ct, P: Problem):
    """y (T, b, G, dg) = Σ_n C·h (real A) or 2·Re Σ_n C·h (complex A)."""
    if P.C_var:
        y = xp.matmul(xp.matrix_transpose(Ct), H)[..., 0, :]
    else:
        y = xp.sum(H * Ct, axis=-2)
    return 2 * xp.real(y) if P.cplx else y


def _c_at(xp, blk, P, t0, t1):
    return xp.expand_dims(blk.Cm[t0:t1, ...], axis=-1) if P.C_var else blk.Cm


def _chunk_len(P: Problem, nb: int, nd: int) -> int:
    G, N = P.A.shape[0], P.A.shape[1]
    L = P.u.shape[0]
    return max(1, min(L, max(_MIN_CHUNK, _CHUNK_ELEMS // max(1, nb * G * nd * N))))


def _h_init(xp, P, bs, ds, shape, dtype):
    if P.h0 is None:
        return xp.zeros(shape, dtype=dtype)
    return _contiguous(xp, P.h0[bs, :, :, ds])


def _fwd_block(xp, P: Problem, bs: slice, ds: slice, state_dtype):
    blk = _block(xp, P, bs, ds)
    L, nb, G, nd = blk.u.shape
    N = P.A.shape[1]
    T = _chunk_len(P, nb, nd)
    h = _h_init(xp, P, bs, ds, (nb, G, N, nd), state_dtype)
    y = xp.empty((L, nb, G, nd), dtype=blk.u.dtype)
    for t0 in range(0, L, T):
        t1 = min(L, t0 + T)
        *_, disc, bb = _chunk(xp, blk, P, t0, t1, False)
        _recur(xp, disc.Abar, bb, h)
        h = bb[t1 - t0 - 1, ...]
        y[t0:t1, ...] = _contract_C(xp, bb, _c_at(xp, blk, P, t0, t1), P)
    return y, h


# ---------------------------------------------------------------------------------------------
# Splitting into thread blocks and combining.


def _split(xp, P: Problem):
    """[(batch slice, channel slice)] blocks: one per thread on NumPy, else a single block."""
    L, Bsz, G, Dg = P.u.shape
    N = P.A.shape[1]
    nt = _threads() if is_numpy(xp) else 1
    nt = max(1, min(nt, (Bsz * G * Dg * N) // _THREAD_MIN_STATE))
    full_b, full_d = slice(0, Bsz), slice(0, Dg)
    if nt <= 1:
        return [(full_b, full_d)]
    if Bsz >= nt:
        e = [Bsz * i // nt for i in range(nt + 1)]
        return [(slice(lo, hi), full_d) for lo, hi in zip(e[:-1], e[1:])]
    if Dg >= nt:
        e = [Dg * i // nt for i in range(nt + 1)]
        return [(full_b, slice(lo, hi)) for lo, hi in zip(e[:-1], e[1:])]
    return [(full_b, full_d)]


def _run_blocks(xp, fn, blocks):
    if len(blocks) == 1:
        return [fn(*blocks[0])]
    futs = [_get_pool().submit(fn, *b) for b in blocks]
    return [f.result() for f in futs]


def scan_forward(xp, P: Problem, state_dtype):
    """y (L, B, G, Dg) before D-skip and gate, and the last state (B, G, N, Dg)."""
    L, Bsz, G, Dg = P.u.shape
    N = P.A.shape[1]
    blocks = _split(xp, P)
    res = _run_blocks(xp, lambda bs, ds: _fwd_block(xp, P, bs, ds, state_dtype), blocks)
    if len(res) == 1:
        return res[0]
    y = xp.empty((L, Bsz, G, Dg), dtype=P.u.dtype)
    last = xp.empty((Bsz, G, N, Dg), dtype=state_dtype)
    for (bs, ds), (yb, hb) in zip(blocks, res):
        y[:, bs, :, ds] = yb
        last[bs, :, :, ds] = hb
    return y, last


# The backward (chunk-boundary states, each chunk recomputed in reverse) is in _chunked_bwd,
# which builds on the helpers above; re-exported here for _generic.
from ._chunked_bwd import BlockGrads, scan_backward  # noqa: E402, F401
