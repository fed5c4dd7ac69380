"""CuPy launchers for raw_kernels/simplified_state_update.cu (two kernels, one warp per output
element each; the state kernel finishes before the output kernel reads it: same stream)."""

from __future__ import annotations

import numpy as np

from ..._cuda import ctype, get_function
from .._shared.s5_shapes import DISC_CODE

SOURCE = "simplified_state_update"
NAME_EXPRESSIONS = tuple(
    f"lrnnx_simplified_state_update_{kind}<{ct}>"
    for kind in ("step", "out") for ct in ("complex<float>", "complex<double>")
)
_THREADS = 128


def state_update_cuda(disc, state, x, dt2, A, B, C, D, dtA2, conj_sym, cdt):
    """Update ``state`` (B, P) in place and return y (B, H); steps are (1, P) or (B, P)."""
    import cupy as cp

    # The API passes cdt as xp.complex64/complex128, a scalar *type* (no .name): ctype() needs a
    # dtype.
    cdt = np.dtype(cdt)
    with state.device:
        Bsz, P = (int(n) for n in state.shape)
        H = int(x.shape[1])
        rdt = np.float32 if cdt == np.complex64 else np.float64
        inplace = state.dtype == cdt and state.flags.c_contiguous
        work = state if inplace else cp.ascontiguousarray(state, dtype=cdt)
        x = cp.ascontiguousarray(x, dtype=rdt)
        dt_c = cp.ascontiguousarray(dt2, dtype=rdt)
        dA_c = dt_c if dtA2 is None else cp.ascontiguousarray(dtA2, dtype=rdt)
        y = cp.empty((Bsz, H), dtype=rdt)
        if Bsz == 0:
            return y
        ct = ctype(cdt)
        if P > 0:  # with H == 0 the state still decays: s <- Abar s
            step = get_function(SOURCE, f"lrnnx_simplified_state_update_step<{ct}>",
                                NAME_EXPRESSIONS)
            step((-(-Bsz * P * 32 // _THREADS),), (_THREADS,),
                 (work, x, dt_c, dA_c, cp.ascontiguousarray(A, dtype=cdt),
                  cp.ascontiguousarray(B, dtype=cdt), np.int64(Bsz), np.int64(P), np.int64(H),
                  np.int64(P if dt_c.shape[0] > 1 else 0),
                  np.int64(P if dA_c.shape[0] > 1 else 0), np.int32(dtA2 is not None),
                  np.int32(DISC_CODE[disc])))
        if H > 0:
            out = get_function(SOURCE, f"lrnnx_simplified_state_update_out<{ct}>",
                               NAME_EXPRESSIONS)
            out((-(-Bsz * H * 32 // _THREADS),), (_THREADS,),
                (work, x, cp.ascontiguousarray(C, dtype=cdt),
                 cp.ascontiguousarray(D, dtype=rdt) if D is not None else x, y,
                 np.int64(Bsz), np.int64(P), np.int64(H), np.int32(D is not None),
                 rdt(2.0 if conj_sym else 1.0)))
        if not inplace:
            state[...] = work.astype(state.dtype)
        return y


def step(xp, state, x, dt, A, B, C, D, dtA, *, disc, conj_sym):
    """The dispatch entry (see ``_generic.step``)."""
    return state_update_cuda(disc, state, x, dt, A, B, C, D, dtA, conj_sym, A.dtype)
