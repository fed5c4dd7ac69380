"""Public S5 decode step (the single-step form of ``simplified_scan`` + ``s5_inner``)."""

from __future__ import annotations

from ... import _checks
from ..._backend import namespace, resolve_impl
from .._shared.s5_shapes import DISCRETIZATIONS
from . import _generic

__all__ = ["simplified_state_update"]


def _steps2(xp, d, name, Bsz, P):
    if d.ndim == 1:
        _checks.check_shape(name, d, (P,), "(P,) or (batch, P):")
        return xp.reshape(d, (1, P))
    _checks.check_shape(name, d, (Bsz, P), "(P,) or (batch, P):")
    return d


def simplified_state_update(state, x, dt, A, B, C, D=None, deltaA=None,
                            discretization="bilinear", conj_sym=True, *, impl="auto"):
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
    impl : {"auto", "cuda", "generic", "reference"}

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
    names = ("state", "x", "dt", "A", "B", "C", "D", "deltaA")
    arrays = (state, x, dt, A, B, C, D, deltaA)
    xp = namespace(*arrays, names=names)
    _checks.check_option("discretization", discretization, DISCRETIZATIONS)
    _checks.check_array_dtype(xp, "state", state, allow_real=False)
    for name, v in zip(names[1:], arrays[1:]):
        if v is not None:
            _checks.check_array_dtype(xp, name, v,
                                      allow_complex=name in ("A", "B", "C"))
    _checks.check_ndim("state", state, 2, "(batch, P)")
    Bsz, P = (int(n) for n in state.shape)
    _checks.check_ndim("x", x, 2, "(batch, H)")
    H = int(x.shape[1])
    _checks.check_shape("x", x, (Bsz, H), "(batch, H)")
    _checks.check_shape("A", A, (P,), "(P,)")
    _checks.check_shape("B", B, (P, H), "(P, H)")
    _checks.check_shape("C", C, (H, P), "(H, P)")
    if D is not None:
        _checks.check_shape("D", D, (H, H), "(H, H)")
    dt2 = _steps2(xp, dt, "dt", Bsz, P)
    dtA2 = None if deltaA is None else _steps2(xp, deltaA, "deltaA", Bsz, P)
    for name, v in (("A", A), ("B", B), ("C", C), ("D", D), ("dt", dt), ("deltaA", deltaA)):
        _checks.check_finite(xp, name, v)
    if discretization == "zoh" and bool(xp.any(A == 0)):
        raise ValueError("A must be nonzero for discretization='zoh' (gbar = (exp(dt A) - 1) / A)")
    present = [v for v in arrays if v is not None]
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, *present))
    rdt = _checks.real_dtype_of(xp, cdt)
    impl = resolve_impl(impl, xp, cuda_supported=True, what="simplified_state_update")
    if impl == "reference":
        from ._ref import simplified_state_update_ref

        work = xp.asarray(state, dtype=xp.complex128, copy=True)
        y = simplified_state_update_ref(work, x, dt, A, B, C, D, deltaA, discretization, conj_sym)
        state[...] = xp.astype(work, state.dtype)
        return xp.asarray(y, dtype=rdt)

    def c(v):
        return xp.astype(v, cdt)

    def r(v):
        return None if v is None else xp.astype(v, rdt)

    if impl == "cuda":
        from ._cuda import state_update_cuda

        return state_update_cuda(discretization, state, r(x), r(dt2), c(A), c(B), c(C), r(D),
                                 r(dtA2), conj_sym, cdt)
    new, y = _generic.step(xp, discretization, c(state), r(x), r(dt2), c(A), c(B), c(C), r(D),
                           r(dtA2), conj_sym, cdt)
    state[...] = xp.astype(new, state.dtype)
    return y
