"""CuPy launchers for raw_kernels/rglru_scan.cu (one block per (batch, dim) row)."""

from __future__ import annotations

import numpy as np

from ..._cuda import ctype, get_function

SOURCE = "rglru_scan"
NAME_EXPRESSIONS = tuple(
    f"lrnnx_rglru_scan_{kind}<{ct}>" for kind in ("fwd", "bwd") for ct in ("float", "double")
)
_THREADS = 128
_MAX_N = 256  # LRNNX_RGLRU_MAX_N in the .cu: per-state carries live in fixed shared arrays


def _check_n(N):
    if N > _MAX_N:  # the kernel would overrun its shared arrays; _api routes such N elsewhere
        raise ValueError(f"rglru_scan CUDA kernel supports d_state <= {_MAX_N}, got {N}")


def _chunk(dtype) -> int:
    return _THREADS * (8 if np.dtype(str(dtype)).itemsize <= 4 else 4)  # RgCfg in the .cu


def rglru_scan_fwd_cuda(u, delta, A, h0, *, save_ckpt=False):
    """(y, last, ckpt): ckpt holds the state entering every chunk when ``save_ckpt``."""
    import cupy as cp

    Bsz, D, L = u.shape
    N = A.shape[1]
    _check_n(N)
    dt = u.dtype
    # Allocations, module load and launch all on the inputs' device (not the current one).
    with u.device:
        u, delta, A = (cp.ascontiguousarray(v, dtype=dt) for v in (u, delta, A))
        y = cp.empty((Bsz, D, L), dtype=dt)
        last = cp.empty((Bsz, D, N), dtype=dt)
        nchunks = -(-L // _chunk(dt))
        ckpt = cp.empty((Bsz * D * nchunks * N,), dtype=dt) if save_ckpt else None
        if Bsz * D == 0:
            return y, last, ckpt
        h0_arg = cp.ascontiguousarray(h0, dtype=dt) if h0 is not None else y
        fn = get_function(SOURCE, f"lrnnx_rglru_scan_fwd<{ctype(dt)}>", NAME_EXPRESSIONS)
        fn((Bsz * D,), (_THREADS,), (u, delta, A, h0_arg, y, last, ckpt if save_ckpt else y,
                                     np.int64(Bsz), np.int64(D), np.int64(N), np.int64(L),
                                     np.int32(h0 is not None), np.int32(save_ckpt)))
    return y, last, ckpt


def rglru_scan_bwd_cuda(dout, u, delta, A, h0, dlast):
    """(du, ddelta, dA, dh0); runs the forward once to save chunk checkpoints."""
    import cupy as cp

    Bsz, D, L = u.shape
    N = A.shape[1]
    _check_n(N)
    dt = u.dtype
    with u.device:
        u, delta, A, dout = (cp.ascontiguousarray(v, dtype=dt) for v in (u, delta, A, dout))
        _, _, ckpt = rglru_scan_fwd_cuda(u, delta, A, h0, save_ckpt=True)
        du = cp.empty((Bsz, D, L), dtype=dt)
        ddelta = cp.empty((Bsz, D, L), dtype=dt)
        dA = cp.zeros((D, N), dtype=dt)
        dh0 = cp.empty((Bsz, D, N), dtype=dt) if h0 is not None else None
        if Bsz * D == 0:
            return du, ddelta, dA, dh0
        dl_arg = cp.ascontiguousarray(dlast, dtype=dt) if dlast is not None else du
        fn = get_function(SOURCE, f"lrnnx_rglru_scan_bwd<{ctype(dt)}>", NAME_EXPRESSIONS)
        fn((Bsz * D,), (_THREADS,), (u, delta, A, dout, dl_arg, ckpt, du, ddelta, dA,
                                     dh0 if dh0 is not None else du,
                                     np.int64(Bsz), np.int64(D), np.int64(N), np.int64(L),
                                     np.int32(dlast is not None), np.int32(h0 is not None)))
    return du, ddelta, dA, dh0


# The dispatch entries (canonical arrays in the compute dtype; the API routes d_state > 256
# elsewhere).


def forward(xp, u, delta, A, h0):
    y, last, _ = rglru_scan_fwd_cuda(u, delta, A, h0)
    return y, last


def backward(xp, dout, u, delta, A, h0, dlast):
    return rglru_scan_bwd_cuda(dout, u, delta, A, h0, dlast)
