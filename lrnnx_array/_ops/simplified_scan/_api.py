"""Public S5 scan: ``simplified_scan`` (complex y = C x) and ``s5_inner`` (the S5 layer's inner
function), with their VJPs."""

from __future__ import annotations

import math
from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec, float_dtypes
from .._shared.grads import grad_like, sum_to
from .._shared.s5_shapes import DISCRETIZATIONS, steps3

__all__ = ["simplified_scan", "simplified_scan_vjp", "s5_inner", "s5_inner_vjp",
           "SimplifiedScanGrads", "S5InnerGrads"]


class SimplifiedScanGrads(NamedTuple):
    du: object
    ddelta: object
    dA: object
    dB: object
    dC: object
    ddeltaA: object
    dh0: object


class S5InnerGrads(NamedTuple):
    du: object
    ddelta: object
    dA: object
    dB: object
    dC: object
    dD: object
    ddeltaA: object
    dh0: object


_ARGS = (Arg("u"), Arg("delta", "real", param=True), Arg("A", param=True),
         Arg("B", param=True), Arg("C", param=True),
         Arg("deltaA", "real", required=False, param=True), Arg("h0", required=False))
_IMPLS = {"reference": "_ref", "generic": "_generic", "cuda": "_cuda", "numba": "_numba"}
_SUPPORTS = {"cuda": float_dtypes("complex64", "complex128")}  # on the complex compute dtype
_OPTIONS = {"discretization": DISCRETIZATIONS}
SPEC = OpSpec("simplified_scan", __package__, _ARGS, impls=_IMPLS, supports=_SUPPORTS,
              options=_OPTIONS)
INNER_SPEC = OpSpec("s5_inner", __package__, _ARGS + (Arg("D", "real", param=True),),
                    impls=_IMPLS, supports=_SUPPORTS, options=_OPTIONS)
_SCAN_COTANGENTS = {"dout": Arg("dout"), "dlast_state": Arg("dlast_state", required=False)}
_INNER_COTANGENTS = {"dout": Arg("dout", "real")}


class _Problem(NamedTuple):
    """The canonical arrays every implementation takes (cast, normalised shapes)."""

    u: object     # (B, H, L) complex
    dt3: object   # 3-D real steps, broadcastable to (B, P, L)
    A: object     # (P,) complex
    B: object     # (P, H)
    C: object     # (H, P)
    dtA3: object  # like dt3, or None
    h0: object    # (B, P) complex or None
    D: object     # (H,) real or None


def _cast(xp, x, dtype):
    return None if x is None else (x if x.dtype == dtype else xp.astype(x, dtype))


def _problem(xp, u, delta, A, B, C, deltaA, h0, D=None):
    """The op's shape rules (no values are read), then the canonical arrays and the complex
    compute dtype."""
    _checks.check_ndim("u", u, 3, "(batch, H, L)")
    Bsz, H, L = (int(n) for n in u.shape)
    _checks.check_ndim("A", A, (1, 2), "(P,) or (P, 1)")
    P = int(A.shape[0])
    if A.ndim == 2:
        _checks.check_shape("A", A, (P, 1), "(P,) or")
    _checks.check_shape("B", B, (P, H), "(P, H)")
    _checks.check_shape("C", C, (H, P), "(H, P)")
    if D is not None:
        _checks.check_shape("D", D, (H,), "(H,)")
    dt3 = steps3(xp, delta, "delta", Bsz, P, L)
    dtA3 = None if deltaA is None else steps3(xp, deltaA, "deltaA", Bsz, P, L)
    if h0 is not None:
        _checks.check_broadcastable("h0", h0, (Bsz, P), "the state shape (B, P)")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, delta, A, B, C, deltaA, h0, D))
    rdt = _checks.real_dtype_of(xp, cdt)
    h0c = None if h0 is None else _cast(xp, xp.broadcast_to(h0, (Bsz, P)), cdt)
    return _Problem(_cast(xp, u, cdt), _cast(xp, dt3, rdt), _cast(xp, xp.reshape(A, (P,)), cdt),
                    _cast(xp, B, cdt), _cast(xp, C, cdt), _cast(xp, dtA3, rdt), h0c,
                    _cast(xp, D, rdt)), cdt


def _no_steps_grads(xp, pr, dlast):
    """The VJP at L = 0: every gradient is zero but dh0, which is the last state's cotangent."""
    zeros = [xp.zeros(tuple(x.shape), dtype=x.dtype) for x in (pr.u, pr.dt3, pr.A, pr.B, pr.C)]
    ddtA = None if pr.dtA3 is None else xp.zeros(tuple(pr.dtA3.shape), dtype=pr.dtA3.dtype)
    dh0 = None
    if pr.h0 is not None:
        dh0 = xp.zeros(tuple(pr.h0.shape), dtype=pr.h0.dtype) if dlast is None else dlast
    return (*zeros, ddtA, dh0)


def _like(xp, g, x, cdt=None):
    """Gradient for the primal ``x``: its shape, real part for real primals, compute precision.

    Gradients arrive at the normalised shapes (steps 3-D, A (P,), h0 (B, P)): reshape, or sum
    the broadcast axes of a broadcast ``h0``.
    """
    if g is None or x is None:
        return None
    shape = tuple(x.shape)
    if tuple(g.shape) != shape and math.prod(g.shape) != math.prod(shape):
        g = sum_to(xp, g, shape)
    return grad_like(xp, xp.reshape(g, shape), x)


def simplified_scan(u, delta, A, B, C, deltaA=None, return_last_state=False,
                    discretization="bilinear", *, h0=None, impl="auto", check_finite=True):
    r"""S5's complex diagonal scan with input projection B and output projection C.

    Parameters
    ----------
    u : array, shape (batch, H, L)
        Input, complex (a real ``u`` is treated as complex).
    delta : array, real
        Time step of the input term, per state: shape (P,), event steps (batch, L) shared by the
        states, or anything broadcastable to (batch, P, L) (lrnnx's layout). Never materialised.
    A : array, shape (P,) or (P, 1)
        Diagonal state matrix (complex eigenvalues; real is accepted).
    B : array, shape (P, H)
        Input projection.
    C : array, shape (H, P)
        Output projection.
    deltaA : array, real, optional
        Separate time step for A only (Event-SSM), same shapes as ``delta``. Default: ``delta``.
    return_last_state : bool, default False
        Also return the final state x_{L-1}, shape (batch, P) (the true state; lrnnx's is not).
    discretization : {"bilinear", "zoh", "dirac"}
    h0 : array, shape (batch, P), optional
        Initial state (zero if omitted).
    impl : {"auto", "cuda", "numba", "generic", "reference"}
        Algorithm; ``auto`` takes the CUDA kernel for CuPy arrays, the numba tier for
        NumPy arrays where numba is installed and measured faster, else the array-API path.
    check_finite : bool, default True
        Reject NaN or inf in the parameters ``delta``, ``A``, ``B``, ``C``, ``deltaA`` (and
        ``D``). It reads their values: a device sync on GPU. Pass False once they are known to be
        finite (models validate at load time); a NaN then propagates into the result. ``u`` and
        ``h0`` are never checked: a NaN there propagates forward in time only.

    Returns
    -------
    y : array, shape (batch, H, L), complex
        ``(y, last_state)`` when ``return_last_state``.

    Notes
    -----
    Per state p, with :math:`\Delta` the input step and :math:`\Delta^A` A's step:

    .. math:: x_t = \bar A_t \odot x_{t-1} + \bar\gamma_t \odot (B u_t),\qquad y_t = C x_t

    zoh: :math:`\bar A = e^{\Delta^A A}`, :math:`\bar\gamma = (e^{\Delta A}-1)/A`;
    bilinear: :math:`\bar A = (1+\Delta^A A/2)/(1-\Delta^A A/2)`,
    :math:`\bar\gamma = \Delta/(1-\Delta A/2)`; dirac: :math:`\bar A = e^{\Delta^A A}`,
    :math:`\bar\gamma = 1`.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import simplified_scan
    >>> u = np.ones((1, 1, 3), complex)
    >>> y = simplified_scan(u, np.array([1.0]), np.array([-1.0 + 0j]), np.ones((1, 1)),
    ...                     np.ones((1, 1)), discretization="dirac")
    >>> np.round(y.real, 4)
    array([[[1.    , 1.3679, 1.5032]]])
    """
    xp = SPEC.validate({"u": u, "delta": delta, "A": A, "B": B, "C": C, "deltaA": deltaA,
                        "h0": h0}, flags={"return_last_state": return_last_state},
                       options={"discretization": discretization}, check_finite=check_finite)
    pr, cdt = _problem(xp, u, delta, A, B, C, deltaA, h0)
    name = SPEC.resolve(impl, xp, cdt)
    if pr.u.shape[2] == 0:
        y = xp.zeros(tuple(pr.u.shape), dtype=cdt)
        last = xp.zeros((pr.u.shape[0], pr.A.shape[0]), dtype=cdt) if pr.h0 is None else pr.h0
    else:
        y, last = SPEC.get(name, "forward")(xp, *pr[:7], disc=discretization)
    return (y, last) if return_last_state else y


def simplified_scan_vjp(dout, u, delta, A, B, C, deltaA=None, return_last_state=False,
                        discretization="bilinear", *, h0=None, dlast_state=None, impl="auto",
                        check_finite=True):
    r"""Vector-Jacobian product of :func:`simplified_scan`.

    Parameters
    ----------
    dout : array, shape (batch, H, L)
        Cotangent of y (real or complex).
    u, delta, A, B, C, deltaA, return_last_state, discretization, h0, impl, check_finite
        As for :func:`simplified_scan` (``return_last_state`` is accepted for symmetry).
    dlast_state : array, shape (batch, P), optional
        Cotangent of the last state (broadcastable to (batch, P)).

    Returns
    -------
    SimplifiedScanGrads
        ``(du, ddelta, dA, dB, dC, ddeltaA, dh0)`` shaped like the primals (None for absent
        ones). PyTorch's complex convention; real primals get real gradients.

    Notes
    -----
    With :math:`dx = C^H g` and the adjoint :math:`\lambda_t = dx_t +
    \overline{\bar A_{t+1}}\lambda_{t+1}`: :math:`d\bar A_t = \lambda_t \overline{x_{t-1}}`,
    :math:`d(Bu)_t = \overline{\bar\gamma_t}\lambda_t`, :math:`dC = \sum g x^H`,
    :math:`dB = \sum d(Bu) u^H`, :math:`du = B^H d(Bu)`; A and the steps by the chain rule through
    the discretisation. :math:`x_{t-1}` comes from the scan, never from dividing by Abar.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import simplified_scan, simplified_scan_vjp
    >>> rng = np.random.default_rng(0)
    >>> u, dt = rng.normal(size=(1, 2, 5)), rng.uniform(0.1, 1, 3)
    >>> A = -rng.uniform(0.1, 1, 3) + 1j * rng.normal(size=3)
    >>> B = rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))
    >>> C = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    >>> dout = rng.normal(size=(1, 2, 5)) + 1j * rng.normal(size=(1, 2, 5))
    >>> g = simplified_scan_vjp(dout, u, dt, A, B, C)
    >>> g.du.shape, g.du.dtype, g.dA.shape, g.dB.shape, g.dh0 is None
    ((1, 2, 5), dtype('float64'), (3,), (3, 2), True)

    ``y`` is linear in ``u``, so ``Re<dout, simplified_scan(v, ...)> == <du, v>`` (real ``v``):

    >>> v = rng.normal(size=u.shape)
    >>> np.allclose(np.vdot(dout, simplified_scan(v, dt, A, B, C)).real, np.sum(g.du * v))
    True
    """
    xp = SPEC.validate({"dout": dout, "u": u, "delta": delta, "A": A, "B": B, "C": C,
                        "deltaA": deltaA, "h0": h0, "dlast_state": dlast_state},
                       flags={"return_last_state": return_last_state},
                       options={"discretization": discretization}, check_finite=check_finite,
                       extra=_SCAN_COTANGENTS)
    pr, cdt = _problem(xp, u, delta, A, B, C, deltaA, h0)
    Bsz, H, L = (int(n) for n in pr.u.shape)
    P = int(pr.A.shape[0])
    _checks.check_shape("dout", dout, (Bsz, H, L), "(batch, H, L)")
    dl = None
    if dlast_state is not None:
        _checks.check_broadcastable("dlast_state", dlast_state, (Bsz, P), "(B, P)")
        dl = _cast(xp, xp.broadcast_to(dlast_state, (Bsz, P)), cdt)
    name = SPEC.resolve(impl, xp, cdt)
    if L == 0:
        grads = _no_steps_grads(xp, pr, dl)
    else:
        grads = SPEC.get(name, "backward")(xp, _cast(xp, dout, cdt), *pr[:7], dl,
                                           disc=discretization)
    prims = (u, delta, A, B, C, deltaA, h0)
    return SimplifiedScanGrads(*(_like(xp, g, p, cdt) for g, p in zip(grads, prims)))


def s5_inner(u, delta, A, B, C, D, deltaA=None, discretization="bilinear", conj_sym=True, *,
             h0=None, impl="auto", check_finite=True):
    r"""The S5 layer's inner function: ``(2 if conj_sym else 1) * Re(C x) + D * Re(u)``.

    Parameters
    ----------
    u, delta, A, B, C, deltaA, discretization, h0, impl, check_finite
        As for :func:`simplified_scan`.
    D : array, shape (H,), real
        Feed-through per channel.
    conj_sym : bool, default True
        The P states are one half of a conjugate-symmetric spectrum: double the real part.

    Returns
    -------
    out : array, shape (batch, H, L), real

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s5_inner
    >>> out = s5_inner(np.ones((1, 1, 2)), np.array([1.0]), np.array([-1.0 + 0j]),
    ...                np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), discretization="dirac")
    >>> np.round(out, 4)
    array([[[2.    , 2.7358]]])
    """
    xp = INNER_SPEC.validate({"u": u, "delta": delta, "A": A, "B": B, "C": C, "D": D,
                              "deltaA": deltaA, "h0": h0}, flags={"conj_sym": conj_sym},
                             options={"discretization": discretization},
                             check_finite=check_finite)
    pr, cdt = _problem(xp, u, delta, A, B, C, deltaA, h0, D)
    name = INNER_SPEC.resolve(impl, xp, cdt)
    if pr.u.shape[2] == 0:
        return xp.zeros(tuple(pr.u.shape), dtype=pr.D.dtype)
    return INNER_SPEC.get(name, "inner_forward")(
        xp, *pr[:5], pr.D, pr.dtA3, pr.h0, disc=discretization, conj_sym=bool(conj_sym))


def s5_inner_vjp(dout, u, delta, A, B, C, D, deltaA=None, discretization="bilinear",
                 conj_sym=True, *, h0=None, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`s5_inner`.

    Parameters
    ----------
    dout : real array, shape (batch, H, L)
        Cotangent of ``out`` (complex raises ``TypeError``).
    u, delta, A, B, C, D, deltaA, discretization, conj_sym, h0, impl, check_finite
        As for :func:`s5_inner`.

    Returns
    -------
    S5InnerGrads
        ``(du, ddelta, dA, dB, dC, dD, ddeltaA, dh0)``, each shaped like its argument (None
        for absent ones); ``du`` gets ``D * dout`` on top of the scan's gradient (through Re u),
        ``dD = sum dout * Re(u)``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s5_inner, s5_inner_vjp
    >>> rng = np.random.default_rng(0)
    >>> u, dt = rng.normal(size=(1, 2, 5)), rng.uniform(0.1, 1, 3)
    >>> A = -rng.uniform(0.1, 1, 3) + 1j * rng.normal(size=3)
    >>> B = rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))
    >>> C = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    >>> D = rng.normal(size=2)
    >>> dout = rng.normal(size=(1, 2, 5))
    >>> g = s5_inner_vjp(dout, u, dt, A, B, C, D)
    >>> g.du.shape, g.dC.shape, g.dD.shape
    ((1, 2, 5), (2, 3), (2,))
    >>> np.allclose(g.dD, np.sum(dout * u, axis=(0, 2)))
    True

    ``out`` is linear in a real ``u``, so ``<dout, s5_inner(v, ...)> == <du, v>``:

    >>> v = rng.normal(size=u.shape)
    >>> np.allclose(np.sum(dout * s5_inner(v, dt, A, B, C, D)), np.sum(g.du * v))
    True
    """
    xp = INNER_SPEC.validate({"dout": dout, "u": u, "delta": delta, "A": A, "B": B, "C": C,
                              "D": D, "deltaA": deltaA, "h0": h0}, flags={"conj_sym": conj_sym},
                             options={"discretization": discretization},
                             check_finite=check_finite, extra=_INNER_COTANGENTS)
    pr, cdt = _problem(xp, u, delta, A, B, C, deltaA, h0, D)
    _checks.check_shape("dout", dout, tuple(pr.u.shape), "(batch, H, L)")
    name = INNER_SPEC.resolve(impl, xp, cdt)
    if pr.u.shape[2] == 0:
        grads = _no_steps_grads(xp, pr, None)
        grads = (*grads[:5], xp.zeros(tuple(pr.D.shape), dtype=pr.D.dtype), *grads[5:])
    else:
        grads = INNER_SPEC.get(name, "inner_backward")(
            xp, _cast(xp, dout, pr.D.dtype), *pr[:5], pr.D, pr.dtA3, pr.h0,
            disc=discretization, conj_sym=bool(conj_sym))
    prims = (u, delta, A, B, C, D, deltaA, h0)
    return S5InnerGrads(*(_like(xp, g, p, cdt) for g, p in zip(grads, prims)))
