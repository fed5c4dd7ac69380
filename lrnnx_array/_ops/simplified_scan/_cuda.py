"""CuPy launchers for raw_kernels/simplified_scan.cu.

The projections (Bu = B u, y = C x and, in the VJP, C^H g, B^H dBu, dB, dC) are cuBLAS batched
GEMMs; the kernels do the discretisation from broadcast-strided steps plus the scan (fwd) and
the in-chunk recompute + adjoint scan + parameter reductions (bwd). Why not one fused kernel:
see the header of the .cu file (the scan alone is at roofline traffic; K = H or P GEMMs belong
to cuBLAS). ``_bench.py`` times the GEMMs and the scan separately so the split can be revisited.
"""

from __future__ import annotations

import numpy as np

from ..._cuda import ctype, get_function
from .._shared.s5_shapes import DISC_CODE

SOURCE = "simplified_scan"
NAME_EXPRESSIONS = tuple(
    f"lrnnx_simplified_scan_{kind}<{ct}>"
    for kind in ("fwd", "bwd") for ct in ("complex<float>", "complex<double>")
)
_THREADS = 128
# Must match S5Cfg in the .cu (kThreads * kItems).
_CHUNK = {"complex64": 512, "complex128": 256}


def _name(dt):
    """The dtype's name, from a dtype or a scalar type (``numpy.complex64``): never its str."""
    return np.dtype(dt).name


def _steps(cp, d3, rdt):
    """Compact contiguous 3-D steps and their element strides (0 on broadcast axes)."""
    d = cp.ascontiguousarray(d3, dtype=rdt)
    nb, npp, nl = (int(n) for n in d.shape)
    strides = (np.int64(npp * nl if nb > 1 else 0), np.int64(nl if npp > 1 else 0),
               np.int64(1 if nl > 1 else 0))
    return d, strides


def _mode(shape, full):
    """Gradient emission mode for a step array of compact ``shape`` (see ``emit`` in the .cu)."""
    if shape[2] == 1:
        return 2
    return 0 if tuple(shape) == tuple(full) else 1


def _mH(cp, x):
    return cp.conj(x).swapaxes(-1, -2)


def _scan_fwd(cp, disc, Bu, dt3, A, dtA3, h0, want_ckpt):
    Bsz, P, L = (int(n) for n in Bu.shape)
    cdt = Bu.dtype
    rdt = np.float32 if _name(cdt) == "complex64" else np.float64
    x = cp.empty((Bsz, P, L), dtype=cdt)
    last = cp.zeros((Bsz, P), dtype=cdt) if h0 is None else cp.array(h0, dtype=cdt)
    n_chunks = -(-L // _CHUNK[_name(cdt)])
    ckpt = cp.empty((Bsz, P, max(n_chunks, 1)), dtype=cdt) if want_ckpt else None
    if Bsz * P == 0 or L == 0:
        return x, last, ckpt
    dt_c, dts = _steps(cp, dt3, rdt)
    dA_c, dAs = (dt_c, dts) if dtA3 is None else _steps(cp, dtA3, rdt)
    A = cp.ascontiguousarray(A, dtype=cdt)
    h0_arg = cp.ascontiguousarray(h0, dtype=cdt) if h0 is not None else x
    fn = get_function(SOURCE, f"lrnnx_simplified_scan_fwd<{ctype(cdt)}>", NAME_EXPRESSIONS)
    fn((Bsz * P,), (_THREADS,),
       (Bu, dt_c, dA_c, A, h0_arg, x, last, ckpt if ckpt is not None else x,
        np.int64(Bsz), np.int64(P), np.int64(L), *dts, *dAs,
        np.int32(dtA3 is not None), np.int32(h0 is not None), np.int32(DISC_CODE[disc]),
        np.int32(want_ckpt)))
    return x, last, ckpt


def forward_cuda(disc, u, dt3, A, B, C, dtA3, h0):
    """(y (B,H,L), last state (B,P)) for complex CuPy inputs at the normalised shapes."""
    import cupy as cp

    with u.device:
        Bu = cp.ascontiguousarray(cp.matmul(B, u))
        x, last, _ = _scan_fwd(cp, disc, Bu, dt3, A, dtA3, h0, False)
        return cp.matmul(C, x), last


def _scan_bwd(cp, disc, Bu, dx, dt3, A, dtA3, h0, ckpt, dlast):
    """The backward scan kernel alone: (dBu, ddt3, dA, ddtA3, dh0)."""
    Bsz, P, L = (int(n) for n in Bu.shape)
    cdt = Bu.dtype
    rdt = np.float32 if _name(cdt) == "complex64" else np.float64
    dt_c, dts = _steps(cp, dt3, rdt)
    dA_c, dAs = (dt_c, dts) if dtA3 is None else _steps(cp, dtA3, rdt)
    dBu = cp.zeros((Bsz, P, L), dtype=cdt)
    ddt = cp.zeros(dt_c.shape, dtype=rdt)
    ddtA = cp.zeros(dA_c.shape, dtype=rdt) if dtA3 is not None else None
    dA_ri = cp.zeros((2 * P,), dtype=rdt)
    dh0 = cp.zeros((Bsz, P), dtype=cdt) if h0 is not None else None
    if L == 0 and dh0 is not None and dlast is not None:
        dh0[...] = dlast  # no step: the last state is h0
    if Bsz * P > 0 and L > 0:
        full = (Bsz, P, L)
        fn = get_function(SOURCE, f"lrnnx_simplified_scan_bwd<{ctype(cdt)}>", NAME_EXPRESSIONS)
        fn((Bsz * P,), (_THREADS,),
           (Bu, cp.ascontiguousarray(dx, dtype=cdt), dt_c, dA_c,
            cp.ascontiguousarray(A, dtype=cdt),
            cp.ascontiguousarray(h0, dtype=cdt) if h0 is not None else Bu, ckpt,
            cp.ascontiguousarray(dlast, dtype=cdt) if dlast is not None else Bu,
            dBu, ddt, ddtA if ddtA is not None else ddt, dA_ri,
            dh0 if dh0 is not None else Bu,
            np.int64(Bsz), np.int64(P), np.int64(L), *dts, *dAs,
            np.int32(dtA3 is not None), np.int32(h0 is not None),
            np.int32(dlast is not None), np.int32(DISC_CODE[disc]),
            np.int32(_mode(dt_c.shape, full)), np.int32(_mode(dA_c.shape, full))))
    return dBu, ddt, dA_ri.view(cdt), ddtA, dh0


def backward_cuda(disc, g, u, dt3, A, B, C, dtA3, h0, dlast):
    """(du, ddt3, dA, dB, dC, ddtA3, dh0) at the normalised shapes (see _generic.backward)."""
    import cupy as cp

    with u.device:
        Bu = cp.ascontiguousarray(cp.matmul(B, u))
        x, _, ckpt = _scan_fwd(cp, disc, Bu, dt3, A, dtA3, h0, True)
        dC = cp.matmul(g, _mH(cp, x)).sum(axis=0)
        dx = cp.matmul(_mH(cp, C), g)
        dBu, ddt, dA, ddtA, dh0 = _scan_bwd(cp, disc, Bu, dx, dt3, A, dtA3, h0, ckpt, dlast)
        du = cp.matmul(_mH(cp, B), dBu)
        dB = cp.matmul(dBu, _mH(cp, u)).sum(axis=0)
        return du, ddt, dA, dB, dC, ddtA, dh0


# ---- the dispatch entries (canonical signatures, see ``_generic``) ------------------------------


def forward(xp, u, dt3, A, B, C, dtA3, h0, *, disc):
    return forward_cuda(disc, u, dt3, A, B, C, dtA3, h0)


def backward(xp, g, u, dt3, A, B, C, dtA3, h0, dlast, *, disc):
    return backward_cuda(disc, g, u, dt3, A, B, C, dtA3, h0, dlast)


def inner_forward(xp, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    from ._generic import inner_output

    return inner_output(xp, forward_cuda(disc, u, dt3, A, B, C, dtA3, h0)[0], u, D, conj_sym)


def inner_backward(xp, g, u, dt3, A, B, C, D, dtA3, h0, *, disc, conj_sym):
    from ._generic import inner_grads

    return inner_grads(xp, backward, g, u, dt3, A, B, C, D, dtA3, h0, disc=disc,
                       conj_sym=conj_sym)
