"""Public decode step of the selective state space (Mamba/STREAM/RG-LRU/S7 inference)."""

from __future__ import annotations

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic

__all__ = ["selective_state_update", "METHODS"]

METHODS = ("zoh", "bilinear", "dirac", "mamba", "rglru", "s7")


def _is_complex(xp, v):
    return v is not None and xp.isdtype(v.dtype, "complex floating")


def _prepare(state, x, dt, A, B, C, D, z, dt_bias, deltaA, idx, method):
    names = (
        "state",
        "x",
        "dt",
        "A",
        "B",
        "C",
        "D",
        "z",
        "dt_bias",
        "deltaA",
        "state_batch_indices",
    )
    arrays = (state, x, dt, A, B, C, D, z, dt_bias, deltaA, idx)
    xp = namespace(*arrays, names=names)
    _checks.check_option("discretization", method, METHODS)
    for name, v in zip(names[:10], arrays[:10]):
        if v is not None:
            real_only = name in ("x", "dt", "D", "z", "dt_bias", "deltaA")
            _checks.check_array_dtype(xp, name, v, allow_complex=not real_only)
    _checks.check_ndim(
        "state", state, (3, 4), "(batch, dim, dstate) or (batch, nheads, dim, dstate)"
    )
    headed = state.ndim == 4
    _checks.check_ndim(
        "x",
        x,
        state.ndim - 1,
        "(batch, nheads, dim) like the 4-d state" if headed else "(batch, dim) like the 3-d state",
    )
    Bsz = int(x.shape[0])
    nh, P = (int(x.shape[1]), int(x.shape[2])) if headed else (1, int(x.shape[1]))
    N = int(state.shape[-1])
    inner = (nh, P) if headed else (P,)
    _checks.check_shape(
        "state",
        state,
        (None, *inner, N),
        "(rows, nheads, dim, dstate)" if headed else "(rows, dim, dstate)",
    )
    if idx is None and int(state.shape[0]) != Bsz:
        raise ValueError(
            f"state must have batch {Bsz} (x.shape[0]) without state_batch_indices, got shape "
            f"{tuple(state.shape)}"
        )
    for name, v in (("dt", dt), ("z", z), ("deltaA", deltaA)):
        if v is not None:
            _checks.check_broadcastable(name, v, tuple(x.shape), "x's shape")
    _checks.check_broadcastable(
        "A", A, (*inner, N), "(nheads, dim, dstate)" if headed else "(dim, dstate)"
    )
    for name, v in (("D", D), ("dt_bias", dt_bias)):
        if v is not None:
            _checks.check_broadcastable(name, v, inner, "(nheads, dim)" if headed else "(dim,)")
    G = None
    for name, v in (("B", B), ("C", C)):
        _checks.check_ndim(name, v, (2, 3), "(batch, dstate) or (batch, ngroups, dstate)")
        g = 1 if v.ndim == 2 else int(v.shape[1])
        _checks.check_shape(
            name,
            v,
            (Bsz, N) if v.ndim == 2 else (Bsz, g, N),
            "(batch, dstate)" if v.ndim == 2 else "(batch, ngroups, dstate)",
        )
        if G is not None and g != G:
            raise ValueError(f"B and C must have the same number of groups, got {G} and {g}")
        G = g
    if nh % G:
        raise ValueError(f"nheads ({nh}) must be divisible by ngroups ({G}) of B and C")
    cplx_params = [n for n, v in (("A", A), ("B", B), ("C", C)) if _is_complex(xp, v)]
    if method in ("rglru", "s7") and (cplx_params or _is_complex(xp, state)):
        raise TypeError(
            f"discretization={method!r} needs real state, A, B and C, got complex "
            f"{', '.join(cplx_params) or 'state'}"
        )
    if cplx_params and not _is_complex(xp, state):
        raise TypeError(
            f"state must be complex when {', '.join(cplx_params)} is complex, "
            f"got dtype {state.dtype}"
        )
    for name, v in (("A", A), ("D", D), ("dt_bias", dt_bias)):
        _checks.check_finite(xp, name, v)
    if method == "rglru" and not bool(xp.all((A > 0) & (A <= 1))):
        raise ValueError("discretization='rglru' needs A in (0, 1] (A^dt = exp(dt * log A))")
    if idx is not None:
        _check_indices(xp, idx, Bsz, int(state.shape[0]))
    ct = _checks.result_dtype(xp, state, x, dt, A, B, C, D, z, dt_bias, deltaA)
    return xp, headed, (Bsz, nh, P, N, G), ct


def _check_indices(xp, idx, Bsz, rows):
    if not xp.isdtype(idx.dtype, "integral"):
        raise TypeError(f"state_batch_indices must have an integer dtype, got {idx.dtype}")
    _checks.check_shape("state_batch_indices", idx, (Bsz,), "(batch,)")
    if Bsz == 0:
        return
    lo, hi = int(xp.min(idx)), int(xp.max(idx))
    if lo < 0 or hi >= rows:
        raise ValueError(
            f"state_batch_indices must lie in [0, {rows}) (state rows), got values "
            f"from {lo} to {hi}"
        )
    srt = xp.sort(idx)
    if Bsz > 1 and bool(xp.any(srt[1:] == srt[:-1])):
        raise ValueError("state_batch_indices must not repeat a row (two updates of one state)")


def selective_state_update(
    state,
    x,
    dt,
    A,
    B,
    C,
    D=None,
    z=None,
    dt_bias=None,
    dt_softplus=False,
    deltaA=None,
    state_batch_indices=None,
    discretization="mamba",
    *,
    impl="auto",
):
    r"""One decode step of the selective SSM; updates ``state`` in place and returns ``out``.

    Parameters
    ----------
    state : array, shape (rows, dim, dstate) or (rows, nheads, dim, dstate)
        Recurrent state, overwritten with the new state (NumPy, CuPy, any array API library
        with ``__setitem__``). ``rows`` is the batch, or any count with ``state_batch_indices``.
        Complex states follow the selective scan's conjugate-pair convention (out uses 2·Re).
    x : array, shape (batch, dim) or (batch, nheads, dim)
        Input at this step (real).
    dt : array, broadcastable to x's shape
        Step Δ before bias/softplus (for ``s7`` the raw a_t; for ``rglru`` c·r_t).
    A : array, broadcastable to (dim, dstate) or (nheads, dim, dstate)
        Continuous A (``rglru``: the base in (0, 1]; ``s7``: unused but shape-checked).
        Broadcast shapes (e.g. (nheads, 1, 1)) give lrnnx's ``tie_hdim``.
    B, C : array, shape (batch, dstate) or (batch, ngroups, dstate)
        Head h uses group h // (nheads / ngroups).
    D : array, broadcastable to (dim,) or (nheads, dim), optional
        Skip connection.
    z : array like x, optional
        Gate: out *= silu(z).
    dt_bias : array, broadcastable to (dim,) or (nheads, dim), optional
    dt_softplus : bool, default False
        Δ = softplus(dt + dt_bias) (identity above 20), else dt + dt_bias.
    deltaA : array like x, optional
        Separate step for Ā (used raw: no bias, no softplus).
    state_batch_indices : integer array, shape (batch,), optional
        Row of ``state`` that batch entry b reads and writes (distinct, in range).
    discretization : {"zoh", "bilinear", "dirac", "mamba", "rglru", "s7"}
    impl : {"auto", "cuda", "generic", "reference"}

    Returns
    -------
    out : array, shape of x
        :math:`\sum_n C_n h_n + D x`, times silu(z); real dtype of the promoted inputs.

    Notes
    -----
    With :math:`\Delta` as above and :math:`\Delta^A` = ``deltaA`` or :math:`\Delta`:
    :math:`h \leftarrow \bar A h + \gamma B x` where (Ā, γ) is zoh
    :math:`(e^{\Delta^A A}, (e^{\Delta A}-1)/A)`, bilinear
    :math:`((1+\Delta^A A/2)/(1-\Delta^A A/2), \Delta/(1-\Delta A/2))`, dirac
    :math:`(e^{\Delta^A A}, 1)`, mamba :math:`(e^{\Delta^A A}, \Delta)`, rglru
    :math:`(A^{\Delta^A}, \sqrt{1-\bar A^2})`, s7 :math:`(1 - 1/((\Delta^A)^2+1/2), 1)`.
    Iterating it L times equals ``selective_scan`` with the same discretization (lrnnx's step
    uses :math:`e^{\Delta A}` for bilinear, and maps unknown names to mamba; this raises).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import selective_state_update
    >>> state = np.zeros((1, 2, 1)); x = np.ones((1, 2)); dt = np.full((1, 2), 0.5)
    >>> A = -np.ones((2, 1)); B = C = np.ones((1, 1))
    >>> selective_state_update(state, x, dt, A, B, C)
    array([[0.5, 0.5]])
    >>> selective_state_update(state, x, dt, A, B, C)
    array([[0.80326533, 0.80326533]])
    """
    idx = state_batch_indices
    xp, headed, (Bsz, nh, P, N, G), ct = _prepare(
        state, x, dt, A, B, C, D, z, dt_bias, deltaA, idx, discretization
    )
    cplx = xp.isdtype(ct, "complex floating")
    rt = _checks.real_dtype_of(xp, ct)
    impl = resolve_impl(impl, xp, what="selective_state_update")
    if impl == "reference":
        from ._ref import selective_state_update_ref

        new, out = selective_state_update_ref(
            state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, deltaA, idx, discretization
        )
        state[...] = xp.asarray(new, dtype=state.dtype)
        return xp.asarray(out, dtype=rt)
    # Canonical headed views: (batch, nheads, dim[, dstate]); broadcasts stay stride-0 views.
    xs = (Bsz, nh, P)

    def vec(v, dtype, shape):
        if v is None:
            return None
        v = v if v.dtype == dtype else xp.astype(v, dtype)
        if not headed:  # broadcast in the caller's layout, then insert the single head axis
            head_axis = 1 if shape is xs else 0
            v = xp.expand_dims(
                xp.broadcast_to(v, shape[:head_axis] + shape[head_axis + 1 :]), axis=head_axis
            )
        return xp.broadcast_to(v, shape)

    x4, dt4, z4, dA4 = (vec(v, rt, xs) for v in (x, dt, z, deltaA))
    D4, bias4 = (vec(v, rt, (nh, P)) for v in (D, dt_bias))
    pt = ct if cplx else rt
    A4 = vec(A, pt, (nh, P, N))
    B4, C4 = (xp.reshape(v if v.dtype == pt else xp.astype(v, pt), (Bsz, G, N)) for v in (B, C))
    if impl == "cuda":
        from ._cuda import selective_state_update_cuda

        out = selective_state_update_cuda(
            state,
            idx,
            x4,
            dt4,
            A4,
            B4,
            C4,
            D4,
            z4,
            bias4,
            dA4,
            bool(dt_softplus),
            METHODS.index(discretization),
            headed,
            ct,
            rt,
        )
    else:
        rows = _generic.gather(xp, state, idx)
        rows = xp.reshape(rows if rows.dtype == ct else xp.astype(rows, ct), (Bsz, nh, P, N))
        new, out = _generic.step(
            xp,
            rows,
            x4,
            dt4,
            A4,
            B4,
            C4,
            D4,
            z4,
            bias4,
            bool(dt_softplus),
            dA4,
            discretization,
            cplx,
        )
        _generic.scatter(xp, state, idx, xp.reshape(new, (Bsz, *tuple(state.shape[1:]))))
    return out if headed else xp.reshape(out, (Bsz, P))
