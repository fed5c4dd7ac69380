"""numba RG-LRU scan: the launchers of the row kernels (``_numba_rows``, ``_numba_rows_bwd``).

Canonical entries as in ``_generic`` (u, delta (B, D, L), A (D, N), h0 (B, D, N), all real in
the compute dtype). Both kernels compute Ā = e^x and β = √max(0, −expm1(2x)) = √(−m (m + 2)),
m = e^x − 1, x = δ ln a, by ``numba_math``'s vectorisable e^x / e^x − 1 (a libm expm1 per
element bound an old per-row loop at ~9 ns an element); β is clamped to 0 where δ < 0 or a = 1
(the numerics layer's ``rglru_clamped``; a NaN stays NaN), and h_t = Ā_t h_{t−1} + β_t u_t,
y_t = Σ_n h_t. A task is 8 (batch, channel) rows, tasks run in parallel; along each row the
discretization is one vectorised loop, and the 8 rows' recurrences run as 8 scalar chains side
by side (a single row's recurrence is a chain of dependent multiply-adds, and lrnnx's N = 1
leaves no state axis to vectorise over).

The backward: pass 1 as the forward, its states kept; pass 2 the adjoint
λ_t = dout_t + Ā_{t+1} λ_{t+1} in reverse, then with x = δ ln a:
dx = λ (Ā h_{t−1} − u Ā²/β) (the second term 0 where β = 0, the square root's kink, as
lrnnx's kernel), du = Σ_n λ β, dδ = Σ_n dx ln a, dA = Σ_{b,t} dx δ / a. h_{t−1} is read from
the stored states, never recovered by dividing by Ā. Nothing of size (B, D, N, L) exists.

These replaced (time x rows) lane-major tiles (δ, u, dout copied into k-major buffers, the
recurrence vectorised over 16 lanes): on a Zen 3 the transposes in and out cost more than the
discretization itself. Measured A/B in one process, single thread, float32, load ~5, tiles ->
rows: forward B16 D256 L1024 61 -> 36 ms, B1 D16 L65536 12.4 -> 3.7; backward 169 -> 93 and
34 -> 16.5.
"""

from __future__ import annotations

import numpy as np

from .._shared import numba_support as nbs
from . import _numba_rows, _numba_rows_bwd

# Several transcendentals per element: two threads pay off from ~2^14 elements (B2 D8 L4096:
# one thread lost to the generic path's SIMD passes).
_PARALLEL_MIN = 1 << 14

# The backward keeps the whole task's buffers (Ā, β and the states) from its first pass when
# they hold at most _KEEP_MAX elements (4 MiB in float32): the second pass then reads them
# instead of recomputing the discretization. Measured (one thread, load ~5, ms, recompute ->
# keep): B16 D256 L1024 110 -> 93; B1 D16 L65536 (6 MiB a task) level (17.1 / 16.5), so longer
# rows recompute each tile from a checkpoint of the state before it.
_KEEP_MAX = 1 << 20  # elements of the kept buffers, 3 N L 8


def _ln(A):
    # A in (0, 1] was checked under check_finite; elsewhere log's NaN/-inf propagates.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(A)


def _opt(x, shape, dtype):
    return (x, True) if x is not None else (np.zeros(shape, dtype), False)


@nbs.launch(min_elems=_PARALLEL_MIN)
def forward(xp, u, delta, A, h0):
    """(y (B, D, L), last (B, D, N))."""
    Bsz, D, L = u.shape
    N = A.shape[1]
    y = np.empty((Bsz, D, L), u.dtype)
    last = np.empty((Bsz, D, N), u.dtype)
    h0_, has_h0 = _opt(h0, (1, 1, 1), u.dtype)
    if N == 0:  # y sums no states
        y[:] = 0
    _numba_rows.fwd(u, delta, _ln(A), h0_, has_h0, y, last)
    return y, last


@nbs.launch(min_elems=_PARALLEL_MIN)
def backward(xp, dout, u, delta, A, h0, dlast):
    """(du, ddelta, dA, dh0)."""
    Bsz, D, L = u.shape
    N = A.shape[1]
    dt = u.dtype
    du, ddelta = np.empty((Bsz, D, L), dt), np.empty((Bsz, D, L), dt)
    if N == 0:  # sums over no states
        du[:] = 0
        ddelta[:] = 0
    gA, dh0 = np.empty((Bsz, D, N), dt), np.empty((Bsz, D, N), dt)
    h0_, has_h0 = _opt(h0, (1, 1, 1), dt)
    dl_, has_dl = _opt(dlast, (1, 1, 1), dt)
    W, steps = _numba_rows.LANES, _numba_rows.STEPS
    keep = 3 * N * (-(-L // steps) * steps) * W <= _KEEP_MAX
    ntask = (Bsz * D + W - 1) // W
    nch = max(1, min(ntask, nbs.numba().get_num_threads()))  # (launch has set the width)
    _numba_rows_bwd.bwd(keep, nch, dout, u, delta, A, _ln(A), h0_, has_h0, dl_, has_dl, du,
                        ddelta, gA, dh0)
    return du, ddelta, gA.sum(axis=0), (None if h0 is None else dh0)
