"""CuPy launchers for raw_kernels/diag_scan.cu (one block per row, chunked block scan)."""

from __future__ import annotations

import numpy as np

from ..._cuda import CTYPES, ctype, get_function

SOURCE = "diag_scan"
NAME_EXPRESSIONS = tuple(
    f"lrnnx_diag_scan_{kind}<{ct}>" for kind in ("fwd", "bwd") for ct in CTYPES.values()
)
_THREADS = 128


def _contig(cp, x, dtype):
    return cp.ascontiguousarray(x, dtype=dtype)


def diag_scan_cuda(a, b, h0, *, reverse=False):
    """a, b: (R, L) CuPy arrays of one dtype; h0: (R,) or None. Returns h (R, L)."""
    import cupy as cp

    R, L = b.shape
    dt = b.dtype
    # Everything (allocations, module load, launch) on the inputs' device, not the current one.
    with b.device:
        a, b = _contig(cp, a, dt), _contig(cp, b, dt)
        h = cp.empty((R, L), dtype=dt)
        if R == 0 or L == 0:
            return h
        h0_arg = _contig(cp, h0, dt) if h0 is not None else h
        fn = get_function(SOURCE, f"lrnnx_diag_scan_fwd<{ctype(dt)}>", NAME_EXPRESSIONS)
        fn((R,), (_THREADS,), (a, b, h0_arg, h, np.int64(R), np.int64(L),
                               np.int32(h0 is not None), np.int32(bool(reverse))))
    return h


def diag_scan_bwd_cuda(dh, a, b, h0, dlast, *, reverse=False):
    """Gradients (da, db, dh0) of the scan for (R, L) arrays; recomputes h with the fwd kernel."""
    import cupy as cp

    R, L = b.shape
    dt = b.dtype
    with b.device:
        h = diag_scan_cuda(a, b, h0, reverse=reverse)
        a, dh = _contig(cp, a, dt), _contig(cp, dh, dt)
        da = cp.empty((R, L), dtype=dt)
        db = cp.empty((R, L), dtype=dt)
        dh0 = cp.zeros((R,), dtype=dt) if h0 is not None else None
        if R == 0 or L == 0:
            return da, db, dh0
        h0_arg = _contig(cp, h0, dt) if h0 is not None else h
        dl_arg = _contig(cp, dlast, dt) if dlast is not None else h
        fn = get_function(SOURCE, f"lrnnx_diag_scan_bwd<{ctype(dt)}>", NAME_EXPRESSIONS)
        fn((R,), (_THREADS,), (a, h, h0_arg, dh, dl_arg, da, db,
                               dh0 if dh0 is not None else h, np.int64(R), np.int64(L),
                               np.int32(h0 is not None), np.int32(dlast is not None),
                               np.int32(bool(reverse))))
    return da, db, dh0


def forward(xp, a, b, h0, *, reverse):
    """The dispatch entry: (R, L) or (R, 1) gates, (R, L) inputs, (R,) or None state."""
    return diag_scan_cuda(xp.broadcast_to(a, b.shape), b, h0, reverse=reverse)


def backward(xp, g, a, b, h0, dlast, *, reverse):
    """The dispatch entry of the VJP: (da, db, dh0) with da at the full (R, L) shape."""
    return diag_scan_bwd_cuda(g, xp.broadcast_to(a, b.shape), b, h0, dlast, reverse=reverse)
