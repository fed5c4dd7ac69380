"""CuPy launchers for raw_kernels/selective_scan.cu (one warp per channel, chunked warp scans).

Inputs arrive from ``_api`` already cast: u, delta, deltaA, z, D, delta_bias in the real dtype
(float32/float64), A, B, C, h0, dlast in the state dtype (real, or complex for complex A).
"""

from __future__ import annotations

import numpy as np

from ..._cuda import get_function

SOURCE = "selective_scan"
METHOD_CODES = {"mamba": 0, "zoh": 1, "bilinear": 2, "dirac": 3, "s7": 4, "rglru": 5}
_WARPS = 4  # channels per block; kWarps in the .cu
_RT = {"float32": "float", "float64": "double"}
# Steps per lane, as ItemsF / ItemsB in the .cu (by sizeof the state type).
_K_FWD = {("float", 0): 16, ("float", 1): 8, ("double", 0): 8, ("double", 1): 4}
_K_BWD = {k: v // 2 for k, v in _K_FWD.items()}

NAME_EXPRESSIONS = tuple(
    [
        f"lrnnx_selective_scan_fwd<{r}, {c}, {k}>"
        for (r, c) in _K_FWD
        for k in sorted({_K_FWD[r, c], _K_BWD[r, c]})
    ]
    + [f"lrnnx_selective_scan_bwd<{r}, {c}>" for (r, c) in _K_FWD]
)


def _key(u, A):
    r = _RT[np.dtype(u.dtype).name]
    return r, int(np.dtype(A.dtype).kind == "c")


def _c(cp, x):
    return None if x is None else cp.ascontiguousarray(x)


def _i64(*xs):
    return tuple(np.int64(x) for x in xs)


def _i32(*xs):
    return tuple(np.int32(bool(x)) for x in xs)


def _groups(X):
    """Group count of a variable B/C as the kernel indexes it: (B, N, L) is one group. B and C
    keep their own counts (the API accepts a (B, N, L) B with a (B, G, N, L) C)."""
    return int(X.shape[1]) if X.ndim == 4 else 1


def _run_fwd(cp, u, delta, A, B, C, D, z, delta_bias, softplus, method, deltaA, h0, K, has_out):
    """Launch the forward with K steps per lane; returns (out or None, states).

    Call inside ``with u.device:``. N = 0 still launches: out = D u silu(z) must be written.
    """
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    r, cplx = _key(u, A)
    n_chunks = -(-L // (32 * K))
    states = cp.empty((Bsz, Dm, n_chunks, N), dtype=A.dtype)
    out = cp.empty((Bsz, Dm, L), dtype=u.dtype) if has_out else None
    if Bsz == 0 or Dm == 0 or L == 0:
        return out, states
    fn = get_function(SOURCE, f"lrnnx_selective_scan_fwd<{r}, {cplx}, {K}>", NAME_EXPRESSIONS)
    grid = (Bsz * (-(-Dm // _WARPS)),)
    fn(
        grid,
        (32 * _WARPS,),
        (
            u,
            delta,
            deltaA if deltaA is not None else u,
            A,
            B,
            C,
            D if D is not None else u,
            z if z is not None else u,
            delta_bias if delta_bias is not None else u,
            h0 if h0 is not None else A,
            out if out is not None else u,
            states,
            *_i64(Bsz, Dm, L, N, _groups(B), _groups(C), n_chunks),
            *_i32(
                B.ndim > 2,
                C.ndim > 2,
                D is not None,
                z is not None,
                delta_bias is not None,
                softplus,
                deltaA is not None,
                h0 is not None,
                has_out,
            ),
            np.int32(METHOD_CODES[method]),
        ),
    )
    return out, states


def _prep(cp, *arrays):
    return [_c(cp, x) for x in arrays]


def selective_scan_fwd_cuda(
    u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0, G
):
    """Returns (out (B, D, L), last_state (B, D, N)).

    ``G`` (the API's common group count) is not used: B and C are indexed with their own.
    """
    with u.device:  # copies, allocations and the launch on the inputs' device
        return _fwd_public(u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0)


def _fwd_public(u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0):
    import cupy as cp

    u, delta, A, B, C, D, z, delta_bias, deltaA, h0 = _prep(
        cp, u, delta, A, B, C, D, z, delta_bias, deltaA, h0
    )
    r, cplx = _key(u, A)
    out, states = _run_fwd(
        cp,
        u,
        delta,
        A,
        B,
        C,
        D,
        z,
        delta_bias,
        delta_softplus,
        method,
        deltaA,
        h0,
        _K_FWD[r, cplx],
        True,
    )
    Bsz, Dm, L = u.shape
    if states.shape[2] == 0:
        last = cp.array(h0) if h0 is not None else cp.zeros((Bsz, Dm, A.shape[1]), dtype=A.dtype)
    else:
        last = cp.ascontiguousarray(states[:, :, -1, :])
    return out, last


def selective_scan_bwd_cuda(
    dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0, dlast, G
):
    """Returns (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, ddeltaA, dh0) in the state dtype
    for A/B/C/h0 (the caller takes real parts) and the real dtype for the rest."""
    with u.device:
        return _bwd_public(
            dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0, dlast, G
        )


def _bwd_public(
    dout, u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0, dlast, G
):
    import cupy as cp

    dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast = _prep(
        cp, dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast
    )
    Bsz, Dm, L = u.shape
    N = A.shape[1]
    r, cplx = _key(u, A)
    K = _K_BWD[r, cplx]
    _, states = _run_fwd(
        cp, u, delta, A, B, C, D, z, delta_bias, delta_softplus, method, deltaA, h0, K, False
    )
    rt, st = u.dtype, A.dtype
    du = cp.empty((Bsz, Dm, L), dtype=rt)
    ddelta = cp.empty((Bsz, Dm, L), dtype=rt)
    ddeltaA = cp.empty((Bsz, Dm, L), dtype=rt) if deltaA is not None else None
    dz = cp.empty((Bsz, Dm, L), dtype=rt) if z is not None else None
    # Accumulated with atomics: zero first.
    dA = cp.zeros((Dm, N), dtype=st)
    dB = cp.zeros(B.shape, dtype=st)
    dC = cp.zeros(C.shape, dtype=st)
    dD = cp.zeros((Dm,), dtype=rt) if D is not None else None
    ddbias = cp.zeros((Dm,), dtype=rt) if delta_bias is not None else None
    n_chunks = states.shape[2]
    if h0 is not None:
        dh0 = cp.empty((Bsz, Dm, N), dtype=st)
    else:
        dh0 = None
    if n_chunks == 0 or Bsz == 0 or Dm == 0:
        if dh0 is not None:
            dh0[...] = dlast if dlast is not None else 0
        return du, ddelta, dA, dB, dC, dD, dz, ddbias, ddeltaA, dh0
    # N = 0 still launches: du = D gy, ddelta = 0, dz must be written.
    dcarry = cp.empty((Bsz, Dm, N), dtype=st) if n_chunks > 1 else states
    fn = get_function(SOURCE, f"lrnnx_selective_scan_bwd<{r}, {cplx}>", NAME_EXPRESSIONS)
    grid = (Bsz * (-(-Dm // _WARPS)),)
    dummy_r = u
    fn(
        grid,
        (32 * _WARPS,),
        (
            u,
            delta,
            deltaA if deltaA is not None else dummy_r,
            A,
            B,
            C,
            D if D is not None else dummy_r,
            z if z is not None else dummy_r,
            delta_bias if delta_bias is not None else dummy_r,
            h0 if h0 is not None else A,
            states,
            dout,
            dlast if dlast is not None else A,
            du,
            ddelta,
            ddeltaA if ddeltaA is not None else du,
            dz if dz is not None else du,
            dA,
            dB,
            dC,
            dD if dD is not None else du,
            ddbias if ddbias is not None else du,
            dh0 if dh0 is not None else dA,
            dcarry,
            *_i64(Bsz, Dm, L, N, _groups(B), _groups(C), n_chunks),
            *_i32(
                B.ndim > 2,
                C.ndim > 2,
                D is not None,
                z is not None,
                delta_bias is not None,
                delta_softplus,
                deltaA is not None,
                h0 is not None,
                dlast is not None,
            ),
            np.int32(METHOD_CODES[method]),
        ),
    )
    return du, ddelta, dA, dB, dC, dD, dz, ddbias, ddeltaA, dh0


# The dispatch entries: canonical arrays in the compute dtypes (real ones in the real dtype; A,
# B, C, h0, dlast in the state dtype). The kernels index B and C with their own group counts.


def forward(xp, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, *, softplus, method):
    return selective_scan_fwd_cuda(u, delta, A, B, C, D, z, delta_bias, softplus, method, deltaA,
                                   h0, None)


def backward(xp, dout, u, delta, A, B, C, D, z, delta_bias, deltaA, h0, dlast, *, softplus,
             method):
    return selective_scan_bwd_cuda(dout, u, delta, A, B, C, D, z, delta_bias, softplus, method,
                                   deltaA, h0, dlast, None)
