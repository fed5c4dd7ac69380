"""Public S5 decode step (the single-step form of ``simplified_scan`` + ``s5_inner``)."""

from __future__ import annotations

from ... import _checks
from ..._dispatch import Arg, OpSpec, float_dtypes
from .._shared.s5_shapes import DISCRETIZATIONS

__all__ = ["simplified_state_update"]

SPEC = OpSpec(
    "simplified_state_update",
    __package__,
    (Arg("state", "complex"), Arg("x", "real"), Arg("dt", "real", param=True),
     Arg("A", param=True), Arg("B", param=True), Arg("C", param=True),
     Arg("D", "real", required=False, param=True),
     Arg("deltaA", "real", required=False, param=True)),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_cuda", "numba": "_numba"},
    supports={"cuda": float_dtypes("complex64", "complex128")},  # on the complex compute dtype
    options={"discretization": DISCRETIZATIONS},
)

_CALLS = SPEC.calls  # the dispatch's per-signature memo of this op (see _dispatch_memo)


def _steps2(xp, d, name, Bsz, P):
    if d.ndim == 1:
        _checks.check_shape(name, d, (P,), "(P,) or (batch, P):")
        return xp.reshape(d, (1, P))
    _checks.check_shape(name, d, (Bsz, P), "(P,) or (batch, P):")
    return d


def _cast(xp, v, dtype):
    return None if v is None else (v if v.dtype == dtype else xp.astype(v, dtype))


def _check_writeable(state):
    if not getattr(getattr(state, "flags", None), "writeable", True):
        raise ValueError("state must be writeable: it is updated in place, got a read-only array")


def _shapes(xp, state, x, dt, A, B, C, D, deltaA):
    """The step's shape rules (no values read); returns the 2-D steps.

    The happy path is one boolean expression (a decode loop calls this once per token per
    layer); the detailed checks run only to word the error.
    """
    ok = state.ndim == 2 and x.ndim == 2
    if ok:
        (Bsz, P), H = state.shape, x.shape[1]
        ok = (x.shape[0] == Bsz and tuple(A.shape) == (P,) and tuple(B.shape) == (P, H)
              and tuple(C.shape) == (H, P) and (D is None or tuple(D.shape) == (H, H)))
    if not ok:
        _checks.check_ndim("state", state, 2, "(batch, P)")
        Bsz, P = (int(n) for n in state.shape)
        _checks.check_ndim("x", x, 2, "(batch, H)")
        H = int(x.shape[1])
        _checks.check_shape("x", x, (Bsz, H), "(batch, H) with batch = state.shape[0]")
        _checks.check_shape("A", A, (P,), "(P,) with P = state.shape[1]")
        _checks.check_shape("B", B, (P, H), "(P, H)")
        _checks.check_shape("C", C, (H, P), "(H, P)")
        if D is not None:
            _checks.check_shape("D", D, (H, H), "(H, H)")
    _check_writeable(state)
    return _steps2(xp, dt, "dt", Bsz, P), (None if deltaA is None
                                            else _steps2(xp, deltaA, "deltaA", Bsz, P))


def simplified_state_update(state, x, dt, A, B, C, D=None, deltaA=None,
                            discretization="bilinear", conj_sym=True, *, impl="auto",
                            check_finite=True):
    r"""One step of the S5 recurrence; ``state`` is updated in place.

    Parameters
    ----------
    state : array, shape (batch, P), complex
        Hidden state, overwritten with the new state.
    x : array, shape (batch, H), real
        Input at this step.
    dt : array, shape (P,) or (batch, P), real
        Input-term step (and A's step when ``deltaA`` is None).
    A : array, shape (P,)
    B : array, shape (P, H)
    C : array, shape (H, P)
    D : array, shape (H, H), real, optional
        Full feed-through matrix, applied as ``D x`` (``y_h += sum_k D[h, k] x_k``), as lrnnx.
    deltaA : array, shape (P,) or (batch, P), real, optional
        Separate step for A.
    discretization : {"bilinear", "zoh", "dirac"}
    conj_sym : bool, default True
        Double the real part (conjugate-symmetric half spectrum).
    impl : {"auto", "cuda", "numba", "generic", "reference"}
        Algorithm; ``auto`` takes the CUDA kernel for CuPy arrays, the numba tier for
        NumPy arrays where numba is installed and measured faster, else the array-API path.
    check_finite : bool, default True
        Reject NaN or inf in the parameters ``dt``, ``A``, ``B``, ``C``, ``D``, ``deltaA``. It
        reads their values (a device sync on GPU, and about as much work as the step itself at
        decode sizes): a decode loop validates its parameters once and passes False. ``state`` and
        ``x`` are never checked (a NaN there stays in its batch row).

    Returns
    -------
    y : array, shape (batch, H), real

    Notes
    -----
    .. math:: s \leftarrow \bar A \odot s + \bar\gamma \odot (B x),\qquad
              y = (2\ \text{if conj\_sym else}\ 1)\,\mathrm{Re}(C s) + D x

    Iterating it L times reproduces :func:`s5_inner` (with ``D = diag(d)``). Unlike lrnnx's
    Triton kernel (whose H-tiles all rewrite the state, a race above H = 128), every state
    element is written exactly once.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import simplified_state_update
    >>> s = np.zeros((1, 1), complex)
    >>> y = simplified_state_update(s, np.ones((1, 1)), np.array([1.0]), np.array([-1.0 + 0j]),
    ...                             np.ones((1, 1)), np.ones((1, 1)), discretization="dirac")
    >>> y, s
    (array([[2.]]), array([[1.+0.j]]))
    """
    return run(state, x, dt, A, B, C, D, deltaA, discretization, conj_sym, impl, check_finite)


def run(state, x, dt, A, B, C, D, deltaA, discretization, conj_sym, impl, check_finite):
    """:func:`simplified_state_update` with every argument positional (a decode step's caller
    that already holds all of them skips the keyword matching: it runs per token per layer)."""
    # A decode loop repeats one signature per token: what the checks decide is memoised on it
    # (_dispatch_memo); the value checks and the writeability check still run every call.
    key = _CALLS.key((state, x, dt, A, B, C, D, deltaA),
                     (conj_sym, discretization, check_finite, impl))
    plan = _CALLS.get(key)
    if plan is None:
        plan = _plan(state, x, dt, A, B, C, D, deltaA, discretization, conj_sym, impl,
                     check_finite)
        _CALLS.put(key, plan)
    else:
        if check_finite:
            SPEC.check_values(plan[0], {"dt": dt, "A": A, "B": B, "C": C, "D": D,
                                        "deltaA": deltaA})
        _check_writeable(state)
    xp, step, cdt, rdt, canonical = plan
    dt2 = dt if dt.ndim == 2 else dt[None, :]  # (P,) -> (1, P), as _shapes allowed
    dtA2 = deltaA if deltaA is None or deltaA.ndim == 2 else deltaA[None, :]
    # Every check is done: the implementation writes the new state into ``state`` (cast to its
    # dtype) and nothing before this line has touched it.
    if canonical:
        return step(xp, state, x, dt2, A, B, C, D, dtA2, disc=discretization,
                    conj_sym=bool(conj_sym))
    return step(
        xp, state, _cast(xp, x, rdt), _cast(xp, dt2, rdt), _cast(xp, A, cdt), _cast(xp, B, cdt),
        _cast(xp, C, cdt), _cast(xp, D, rdt), _cast(xp, dtA2, rdt), disc=discretization,
        conj_sym=bool(conj_sym))


def _plan(state, x, dt, A, B, C, D, deltaA, discretization, conj_sym, impl, check_finite):
    """Every check of a call (``check_finite``'s value checks included); returns
    ``(xp, step function, complex dtype, real dtype, whether every array is already at its
    compute dtype)``: what :data:`_CALLS` keeps for the call's signature."""
    arrays = {"state": state, "x": x, "dt": dt, "A": A, "B": B, "C": C, "D": D, "deltaA": deltaA}
    xp = SPEC.validate(arrays, flags={"conj_sym": conj_sym},
                       options={"discretization": discretization}, check_finite=check_finite)
    _shapes(xp, state, x, dt, A, B, C, D, deltaA)
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, state, x, dt, A, B, C, D, deltaA))
    rdt = _checks.real_dtype_of(xp, cdt)
    step = SPEC.get(SPEC.resolve(impl, xp, cdt), "step")
    canonical = all(v is None or v.dtype == cdt for v in (A, B, C)) and all(
        v is None or v.dtype == rdt for v in (x, dt, D, deltaA))
    return xp, step, cdt, rdt, canonical
