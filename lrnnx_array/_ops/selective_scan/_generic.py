"""Array-API selective scan: the CPU fast path and the portable GPU fallback.

Strategy (measured on the 2-core CI-class machine, float32, B=2 D=256 L=1024 N=16; see the
module ``_bench``): time-major chunks. All per-step inputs are transposed once to (L, B, G, Dg)
(cheap: no N axis). The state is laid out (B, G, N, Dg), channels last: every broadcast
(Δ·A, Δu·B) then has a long contiguous inner loop over channels, which measured 3x faster than
an inner loop over the 16 states. Time is cut into chunks of T steps with T*B*D*N ~
``_CHUNK_ELEMS``; per chunk Ā and b̄ = γ·B·u are built for (T, B, G, N, Dg) in a few
vectorised passes (the exp runs in SIMD), the recurrence runs as a Python loop over the T steps
with the whole state vectorised (two ufunc calls per step on contiguous rows), and C is
contracted on the fly (a batched matmul for variable C). Nothing of size (B, D, L, N) is ever
materialised: only one chunk.

The backward is the kernel's design in array form: a first pass keeps only the chunk-boundary
states; a second pass walks the chunks in reverse, recomputes Ā, b̄ and the states inside the
chunk from its saved boundary state, runs the adjoint loop
    λ_t = c_t·gy_t + conj(Ā_{t+1})·λ_{t+1},
and reduces the parameter gradients per chunk. h_{t-1} comes from the recomputed states, never
from dividing by Ā.

On NumPy, batch (or channel) blocks run on threads when the state is large (see
``_chunked._THREAD_MIN_STATE``): ufuncs and matmul release the GIL.

This module holds the op's maths around the scan (Δ = softplus(δ + bias), the D skip and the
silu(z) gate, and their chain rules) and the dispatch entries ``forward``/``backward``; the
chunk loops live in ``_chunked``.
"""

from __future__ import annotations

from . import _chunked as K


def softplus(xp, x):
    """log1p(exp(x)) for x <= 20, x above (torch's threshold rule)."""
    return xp.where(x <= 20, xp.log1p(xp.exp(xp.minimum(x, xp.asarray(20, dtype=x.dtype)))), x)


def sigmoid(xp, x):
    return 1 / (1 + xp.exp(-x))


def _groups(B, C):
    """The common group count of variable B/C (the API checked they agree; 3-D counts as 1)."""
    return next((int(X.shape[1]) for X in (B, C) if X.ndim == 4), 1)


def _steps(xp, delta, delta_bias, softplus_on):
    """(raw, Δ): raw = delta + bias, Δ = softplus(raw) when asked."""
    raw = delta if delta_bias is None else delta + xp.expand_dims(delta_bias, axis=-1)
    return raw, (softplus(xp, raw) if softplus_on else raw)


def _finish(xp, y, u, D, z):
    """out = (y + D·u)·silu(z)."""
    if D is not None:
        y = y + xp.expand_dims(D, axis=-1) * u
    if z is not None:
        y = y * (z * sigmoid(xp, z))
    return y


def forward(xp, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, *, softplus, method):
    """(out (B, D, L), last state (B, D, N)) for arrays already in the compute dtypes
    (u, delta, D, z, delta_bias, deltaA real; A, B, C, h0 in the state dtype)."""
    G = _groups(B, C)
    _, dt = _steps(xp, delta, delta_bias, softplus)
    P = K.make_problem(xp, u, dt, deltaA, A, B, C, h0, G, method)
    yT, lastT = K.scan_forward(xp, P, A.dtype)
    return _finish(xp, K.from_time_major(xp, yT), u, D, z), K.state_unlayout(xp, lastT)


def backward(xp, dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast, *, softplus,
             method):
    """(du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, ddeltaA, dh0) at the compute dtypes (the
    state dtype for A, B, C, h0; the public layer takes real parts for real arguments)."""
    G = _groups(B, C)
    raw, dt = _steps(xp, delta, delta_bias, softplus)
    if z is not None:
        sz = sigmoid(xp, z)
        gy = dout * (z * sz)
    else:
        gy = dout
    P = K.make_problem(xp, u, dt, deltaA, A, B, C, h0, G, method)
    dlT = None if dlast is None else K.state_layout(xp, dlast, G)
    r = K.scan_backward(xp, P, K.time_major(xp, gy, G), dlT, A.dtype)
    tm = K.from_time_major
    du = tm(xp, r.du)
    dD = None
    if D is not None:
        du = du + xp.expand_dims(D, axis=-1) * gy
        dD = xp.sum(gy * u, axis=(0, 2))
    dz = None
    if z is not None:
        pre = _finish(xp, tm(xp, r.y), u, D, None)
        dz = dout * pre * sz * (1 + z * (1 - sz))
    ddt, ddtA = tm(xp, r.ddt), tm(xp, r.ddtA)
    if deltaA is None:
        ddt, ddeltaA = ddt + ddtA, None
    else:
        ddeltaA = ddtA
    if softplus:  # the threshold rule's derivative: sigmoid below 20, 1 above
        ddt = ddt * xp.where(raw <= 20, sigmoid(xp, raw), xp.ones_like(raw))
    ddelta_bias = None if delta_bias is None else xp.sum(ddt, axis=(0, 2))
    dA = K.param_unlayout(xp, r.dA)
    dh0 = None if r.dh0 is None else K.state_unlayout(xp, r.dh0)
    return (du, ddt, dA, _bc_grad(xp, r.dB, B), _bc_grad(xp, r.dC, C), dD, dz, ddelta_bias,
            ddeltaA, dh0)


def _bc_grad(xp, g, X):
    """Time-major (L, B, G, N) or (G, N, Dg) gradient back to X's layout."""
    if X.ndim == 2:
        return K.param_unlayout(xp, g)
    return xp.reshape(xp.permute_dims(g, (1, 2, 3, 0)), tuple(X.shape))
