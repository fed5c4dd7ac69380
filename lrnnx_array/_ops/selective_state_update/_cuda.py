"""CuPy launcher for raw_kernels/selective_state_update.cu (one decode step, in place)."""

from __future__ import annotations

import numpy as np

from ..._cuda import CTYPES, ctype, get_function

SOURCE = "selective_state_update"
NAME_EXPRESSIONS = tuple(f"lrnnx_selective_state_update_step<{ct}>" for ct in CTYPES.values())
_THREADS = 128


def _strides(v, ndim):
    """Element strides (0 for broadcast axes); zeros for a missing operand."""
    if v is None:
        return [np.int64(0)] * ndim
    return [np.int64(s // v.itemsize) for s in v.strides]


def selective_state_update_cuda(state, idx, x, dt, A, B, C, D, z, dt_bias, deltaA, softplus,
                                method, headed, ct, rt):
    """Step ``state`` in place; inputs are canonical headed views (see _api). Returns out."""
    import cupy as cp

    # The state is written in place, so the kernel computes at the state's precision.
    T = state.dtype
    R = {np.dtype(np.complex64): np.dtype(np.float32),
         np.dtype(np.complex128): np.dtype(np.float64)}.get(np.dtype(T), np.dtype(T))
    Bsz, nh, P = x.shape
    N = state.shape[-1]
    G = B.shape[1]

    def cast(v, dtype):
        return None if v is None else (v if v.dtype == dtype else v.astype(dtype))

    ss = [np.int64(s // state.itemsize) for s in state.strides]
    if not headed:
        ss = [ss[0], np.int64(0), ss[1], ss[2]]
    lanes = 1
    while lanes < min(N, 32):
        lanes *= 2
    blocks = -(-(Bsz * nh * P * lanes) // _THREADS)
    # Casts, allocations, module load and launch on the state's device (not the current one).
    with state.device:
        x, dt, z, deltaA, D, dt_bias = (cast(v, R) for v in (x, dt, z, deltaA, D, dt_bias))
        A, B, C = (cast(v, T) for v in (A, B, C))
        out = cp.empty((Bsz, nh, P), dtype=R)
        if out.size == 0:
            return out.astype(rt, copy=False)
        # Without idx the kernel never reads it: a null pointer, not an array of another type.
        idx_arg = cp.ascontiguousarray(idx, dtype=cp.int64) if idx is not None else None
        fn = get_function(SOURCE, f"lrnnx_selective_state_update_step<{ctype(T)}>",
                          NAME_EXPRESSIONS)
        fn((int(blocks),), (_THREADS,), (
            state, idx_arg, x, dt, A, B, C,
            D if D is not None else x, z if z is not None else x,
            dt_bias if dt_bias is not None else x, deltaA if deltaA is not None else x, out,
            np.int64(Bsz), np.int64(nh), np.int64(P), np.int64(N), np.int64(G), np.int32(lanes),
            *ss, *_strides(x, 3), *_strides(dt, 3), *_strides(z, 3), *_strides(deltaA, 3),
            *_strides(A, 3), *_strides(B, 3), *_strides(C, 3), *_strides(D, 2),
            *_strides(dt_bias, 2),
            np.int32(idx is not None), np.int32(D is not None), np.int32(z is not None),
            np.int32(dt_bias is not None), np.int32(deltaA is not None), np.int32(bool(softplus)),
            np.int32(method)))
        return out if out.dtype == rt else out.astype(rt)


# The dispatch entry: the public layouts in the compute dtypes (see _generic), lifted here to the
# headed shapes the kernel reads through strides (broadcasts as stride-0 views, never copies).


def step(xp, state, idx, x, dt, z, deltaA, A, B, C, D, dt_bias, *, softplus, method):
    from ._api import METHODS

    headed = state.ndim == 4
    Bsz, N = x.shape[0], state.shape[-1]

    def per_step(v):  # broadcast to x's shape, then (batch, nheads, dim)
        if v is None:
            return None
        v = xp.broadcast_to(v, tuple(x.shape))
        return v if headed else v[:, None, :]

    def param(v, shape):  # broadcast to the state's inner shape, then headed
        if v is None:
            return None
        v = xp.broadcast_to(v, shape)
        return v if headed else v[None, ...]

    x3, dt, z, deltaA = (per_step(v) for v in (x, dt, z, deltaA))
    A = param(A, tuple(state.shape[1:]))
    D, dt_bias = (param(v, tuple(state.shape[1:-1])) for v in (D, dt_bias))
    B, C = (xp.reshape(v, (Bsz, v.shape[1] if v.ndim == 3 else 1, N)) for v in (B, C))
    out = selective_state_update_cuda(
        state, idx, x3, dt, A, B, C, D, z, dt_bias, deltaA, softplus,
        METHODS.index(method), headed, A.dtype, x.dtype,
    )
    return out if headed else out[:, 0, :]
