"""Public decode step of the selective state space (Mamba/STREAM/RG-LRU/S7 inference)."""

from __future__ import annotations

from ... import _checks
from ..._dispatch import Arg, OpSpec, float_dtypes

__all__ = ["selective_state_update", "METHODS"]

# The order is the kernel's method code (raw_kernels/selective_state_update.cu).
METHODS = ("zoh", "bilinear", "dirac", "mamba", "rglru", "s7")


def _numba_slower(xp, dtype, method=None):
    """``auto_skip`` for numba: real states under the rglru and s7 gates.

    Measured (issue 13, 2 cores, float32, numba vs generic): real mamba/zoh/bilinear/dirac
    steps are 1.2-1.5x faster at B1 D64-2048 N16 and 1.4-7x at B32 D256 N16 and B2 D4096 N64
    (their A-bar/gamma by the vectorisable polynomial forms), complex states 2-5x (no complex
    exp); the real rglru and s7 gates (scalar per state) measured 1.2-1.8x slower at B32 D256.
    ``impl="numba"`` still runs them.
    """
    if xp.isdtype(dtype, "complex floating") or method not in ("rglru", "s7"):
        return None
    return f"real state, {method}: generic measured faster"


SPEC = OpSpec(
    "selective_state_update",
    __package__,
    (Arg("state"), Arg("x", "real"), Arg("dt", "real"), Arg("A", param=True), Arg("B"), Arg("C"),
     Arg("D", "real", required=False, param=True), Arg("z", "real", required=False),
     Arg("dt_bias", "real", required=False, param=True), Arg("deltaA", "real", required=False),
     Arg("state_batch_indices", "int", required=False)),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_cuda", "numba": "_numba"},
    # The kernel computes at the state's precision (it writes the state in place).
    supports={"cuda": float_dtypes("float32", "float64", "complex64", "complex128")},
    options={"discretization": METHODS},
    auto_skip={"numba": _numba_slower},
)


def _is_complex(xp, v):
    return v is not None and bool(xp.isdtype(v.dtype, "complex floating"))


def _fits(v, target) -> bool:
    """``v`` broadcasts to ``target`` without growing it (fast path of check_broadcastable)."""
    vs = tuple(v.shape)
    if vs == target:
        return True
    return len(vs) <= len(target) and all(s == 1 or s == t for s, t in zip(vs[::-1], target[::-1]))


def _shapes(xp, state, x, dt, A, B, C, D, z, dt_bias, deltaA, idx, method):
    """The batch size; only shapes and dtypes are read.

    Every size comes from ``state``; ``x`` must match it exactly (no silent broadcast), the
    per-step vectors broadcast to x's shape, the parameters to the state's inner shape. Each
    rule is a plain comparison first; the checks that word the errors run only when it fails.
    """
    sh = tuple(state.shape)
    if len(sh) not in (3, 4):
        _checks.check_ndim(
            "state", state, (3, 4), "(batch, dim, dstate) or (batch, nheads, dim, dstate)"
        )
    headed = len(sh) == 4
    inner, N = sh[1:-1], sh[-1]  # inner: (nheads, dim) or (dim,)
    xs = tuple(x.shape)
    if len(xs) != len(sh) - 1 or xs[1:] != inner:
        _checks.check_ndim(
            "x", x, len(sh) - 1,
            "(batch, nheads, dim) like the 4-d state" if headed else "(batch, dim) like the 3-d "
            "state",
        )
        _checks.check_shape("x", x, (xs[0], *inner), "(batch, nheads, dim) as the state's"
                            if headed else "(batch, dim) as the state's")
    Bsz = xs[0]
    if idx is None and sh[0] != Bsz:
        raise ValueError(
            f"state must have batch {Bsz} (x.shape[0]) without state_batch_indices, got shape "
            f"{sh}"
        )
    for name, v, target, desc in (
        ("dt", dt, xs, "x's shape"), ("z", z, xs, "x's shape"), ("deltaA", deltaA, xs, "x's shape"),
        ("A", A, sh[1:], "(nheads, dim, dstate)" if headed else "(dim, dstate)"),
        ("D", D, inner, "(nheads, dim)" if headed else "(dim,)"),
        ("dt_bias", dt_bias, inner, "(nheads, dim)" if headed else "(dim,)"),
    ):
        if v is not None and not _fits(v, target):
            _checks.check_broadcastable(name, v, target, desc)
    G = None
    for name, v in (("B", B), ("C", C)):
        vs = tuple(v.shape)
        g = vs[1] if len(vs) == 3 else 1
        if not (vs == (Bsz, N) or (len(vs) == 3 and vs[0] == Bsz and vs[2] == N)):
            _checks.check_ndim(name, v, (2, 3), "(batch, dstate) or (batch, ngroups, dstate)")
            _checks.check_shape(
                name, v, (Bsz, N) if v.ndim == 2 else (Bsz, g, N),
                "(batch, dstate)" if v.ndim == 2 else "(batch, ngroups, dstate)",
            )
        if G is not None and g != G:
            raise ValueError(f"B and C must have the same number of groups, got {G} and {g}")
        G = g
    nh = inner[0] if headed else 1
    if G == 0 or nh % G:
        raise ValueError(f"nheads ({nh}) must be divisible by ngroups ({G}) of B and C")
    if idx is not None:
        _checks.check_shape("state_batch_indices", idx, (Bsz,), "(batch,)")
    cplx_params = [n for n, v in (("A", A), ("B", B), ("C", C)) if _is_complex(xp, v)]
    cplx_state = _is_complex(xp, state)
    if method in ("rglru", "s7") and (cplx_params or cplx_state):
        raise TypeError(
            f"discretization={method!r} needs real state, A, B and C, got complex "
            f"{', '.join(cplx_params) or 'state'}"
        )
    if cplx_params and not cplx_state:
        raise TypeError(
            f"state must be complex when {', '.join(cplx_params)} is complex, "
            f"got dtype {state.dtype}"
        )
    if cplx_state and not cplx_params:
        # selective_scan rejects such an h0 too: a complex state would switch on the 2·Re
        # conjugate-pair output although the parameters are real.
        raise TypeError(f"state is complex ({state.dtype}) but A, B and C are real; complex "
                        "states need a complex A, B or C")
    _check_writeable(state)
    return Bsz


def _check_writeable(state):
    """A per-array flag, not part of a call's signature: checked on every call."""
    flags = getattr(state, "flags", None)
    if flags is not None and not getattr(flags, "writeable", True):
        raise ValueError("state must be writable (it is updated in place), got a read-only array")


def _check_values(xp, A, idx, rows, Bsz, method):
    """Value checks (they read values: a host sync on a GPU); run only under check_finite."""
    if method == "rglru" and not bool(xp.all((A > 0) & (A <= 1))):
        raise ValueError("discretization='rglru' needs A in (0, 1] (A^dt = exp(dt * log A))")
    if idx is None or Bsz == 0:
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


def _cast(xp, v, dtype):
    return v if v is None or v.dtype == dtype else xp.astype(v, dtype)


def _resolve(impl, xp, state, ct, method):
    """The implementation for this call (the kernel computes at the state's precision)."""
    name = SPEC.resolve(impl, xp, ct, method=method)
    if name == "cuda" and state.dtype != ct:
        # The kernel computes at the state's precision; a lower-precision state would demote.
        if impl == "cuda":
            raise ValueError(
                f"impl='cuda' cannot serve selective_state_update (the kernel computes at the "
                f"state's precision, {state.dtype}, below the inputs' {ct}); use impl='generic'"
            )
        name = "generic"
    return name


def _plan(state, x, dt, A, B, C, D, z, dt_bias, deltaA, idx, dt_softplus, discretization, impl,
          check_finite):
    """Every check of a call (``check_finite``'s value checks included); returns ``(xp, step
    function, compute dtype, real dtype, batch, whether every array is at its compute dtype)``:
    what ``SPEC.calls`` keeps for the call's signature."""
    xp = SPEC.validate(
        {"state": state, "x": x, "dt": dt, "A": A, "B": B, "C": C, "D": D, "z": z,
         "dt_bias": dt_bias, "deltaA": deltaA, "state_batch_indices": idx},
        flags={"dt_softplus": dt_softplus}, options={"discretization": discretization},
        check_finite=check_finite,
    )
    Bsz = _shapes(xp, state, x, dt, A, B, C, D, z, dt_bias, deltaA, idx, discretization)
    if check_finite:
        _check_values(xp, A, idx, int(state.shape[0]), Bsz, discretization)
    ct = _checks.result_dtype(xp, state, x, dt, A, B, C, D, z, dt_bias, deltaA)
    rt = _checks.real_dtype_of(xp, ct)
    step = SPEC.get(_resolve(impl, xp, state, ct, discretization), "step")
    canonical = all(v is None or v.dtype == ct for v in (x, dt, z, deltaA, A, B, C, D, dt_bias))
    return xp, step, ct, rt, Bsz, canonical


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
    check_finite=True,
):
    r"""One decode step of the selective SSM; updates ``state`` in place and returns ``out``.

    Parameters
    ----------
    state : array, shape (rows, dim, dstate) or (rows, nheads, dim, dstate)
        Recurrent state, overwritten with the new state (NumPy, CuPy, any array API library
        with ``__setitem__``). ``rows`` is the batch, or any count with ``state_batch_indices``.
        Complex states follow the selective scan's conjugate-pair convention (out uses 2·Re)
        and need a complex A, B or C; a real state with complex parameters raises too.
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
    impl : {"auto", "cuda", "numba", "generic", "reference"}
        Algorithm; ``auto`` takes the CUDA kernel for CuPy arrays, the numba tier for
        NumPy arrays where numba is installed and measured faster, else the array-API path.
    check_finite : bool, default True
        Whether to check that the parameters ``A``, ``D`` and ``dt_bias`` contain only finite
        numbers, that rglru's ``A`` lies in (0, 1] and that ``state_batch_indices`` are in range
        and distinct. Disabling may give a performance gain (the checks read values: a
        device-to-host sync on a GPU, per token in a decode loop), but may result in problems
        (NaN states, wrong rows updated, an IndexError) if the inputs violate them. Shapes and
        dtypes are always checked, and ``state`` is untouched whenever an error is raised.

    Returns
    -------
    out : array, shape of x
        :math:`\sum_n C_n h_n + D x`, times silu(z); real dtype of the promoted inputs (float16
        computes in float32 and returns float32; the state keeps its own dtype).

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
    return run(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, deltaA, state_batch_indices,
               discretization, impl, check_finite)


def run(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, deltaA, idx, discretization, impl,
        check_finite):
    """:func:`selective_state_update` with every argument positional (a decode step's caller
    that already holds all of them skips the keyword matching: it runs per token per layer)."""
    # A decode loop repeats one signature per token: what the checks decide is memoised on it
    # (_dispatch_memo); the value checks and the writeability check still run every call.
    key = SPEC.calls.key((state, x, dt, A, B, C, D, z, dt_bias, deltaA, idx),
                         (dt_softplus, discretization, check_finite, impl))
    plan = SPEC.calls.get(key)
    if plan is None:
        plan = _plan(state, x, dt, A, B, C, D, z, dt_bias, deltaA, idx, dt_softplus,
                     discretization, impl, check_finite)
        SPEC.calls.put(key, plan)
    elif check_finite:  # the order of the full checks: parameters, writeability, ranges
        SPEC.check_values(plan[0], {"A": A, "D": D, "dt_bias": dt_bias})
        _check_writeable(state)
        _check_values(plan[0], A, idx, int(state.shape[0]), plan[4], discretization)
    else:
        _check_writeable(state)
    xp, step, ct, rt, _, canonical = plan
    args = (x, dt, z, deltaA, A, B, C, D, dt_bias)
    if not canonical:  # ct == rt when nothing is complex
        args = (*(_cast(xp, v, rt) for v in args[:4]), *(_cast(xp, v, ct) for v in args[4:7]),
                *(_cast(xp, v, rt) for v in args[7:]))
    return step(xp, state, idx, *args, softplus=bool(dt_softplus), method=discretization)
