"""Public S5 scan: ``simplified_scan`` (complex y = C x) and ``s5_inner`` (the S5 layer's inner
function), with their VJPs."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic
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


class _Args(NamedTuple):
    xp: object
    cdt: object   # complex compute dtype
    rdt: object   # its real dtype
    u: object     # (B,H,L) complex
    dt3: object   # 3-D real steps, broadcastable to (B,P,L)
    A: object     # (P,) complex
    B: object
    C: object
    dtA3: object
    h0: object    # (B,P) complex or None


def _prepare(what, u, delta, A, B, C, deltaA, discretization, h0, D=None, extra=()):
    names = ("u", "delta", "A", "B", "C", "deltaA", "h0", "D") + tuple(n for n, _ in extra)
    arrays = (u, delta, A, B, C, deltaA, h0, D) + tuple(a for _, a in extra)
    xp = namespace(*arrays, names=names)
    _checks.check_option("discretization", discretization, DISCRETIZATIONS)
    for name, x in zip(names, arrays):
        if x is not None:
            real_only = name in ("delta", "deltaA", "D")
            _checks.check_array_dtype(xp, name, x, allow_complex=not real_only)
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
    for name, x in (("A", A), ("B", B), ("C", C), ("D", D), ("delta", delta), ("deltaA", deltaA)):
        _checks.check_finite(xp, name, x)
    if discretization == "zoh" and bool(xp.any(A == 0)):
        raise ValueError("A must be nonzero for discretization='zoh' (gbar = (exp(dt A) - 1) / A)")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, delta, A, B, C, deltaA, h0, D))
    rdt = _checks.real_dtype_of(xp, cdt)

    def c(x):
        return None if x is None else xp.astype(x, cdt)

    h0c = None if h0 is None else xp.astype(xp.broadcast_to(h0, (Bsz, P)), cdt)
    return _Args(xp, cdt, rdt, c(u), xp.astype(dt3, rdt), c(xp.reshape(A, (P,))), c(B), c(C),
                 None if dtA3 is None else xp.astype(dtA3, rdt), h0c)


def _impl(impl, a, what):
    return resolve_impl(impl, a.xp, cuda_supported=True, what=what)


def _forward(a, disc, impl):
    """(y, x_last) with y (B,H,L) complex."""
    xp = a.xp
    if impl == "reference":
        from ._ref import simplified_scan_ref

        y, last = simplified_scan_ref(a.u, a.dt3, a.A, a.B, a.C, a.dtA3, True, disc, h0=a.h0)
        return xp.asarray(y, dtype=a.cdt), xp.asarray(last, dtype=a.cdt)
    if impl == "cuda":
        from ._cuda import forward_cuda

        return forward_cuda(disc, a.u, a.dt3, a.A, a.B, a.C, a.dtA3, a.h0)
    y, x = _generic.forward(xp, disc, a.u, a.dt3, a.A, a.B, a.C, a.dtA3, a.h0, a.cdt)
    return y, x[:, :, -1]


def _backward(a, disc, g, dlast, impl):
    """Gradients at the normalised shapes (see ``_generic.backward``)."""
    xp = a.xp
    if impl == "reference":
        from ._ref import simplified_scan_vjp_ref

        gr = simplified_scan_vjp_ref(g, a.u, a.dt3, a.A, a.B, a.C, a.dtA3, True, disc, h0=a.h0,
                                     dlast_state=dlast)
        return tuple(None if x is None else xp.asarray(x) for x in gr)
    if impl == "cuda":
        from ._cuda import backward_cuda

        return backward_cuda(disc, g, a.u, a.dt3, a.A, a.B, a.C, a.dtA3, a.h0, dlast)
    return _generic.backward(xp, disc, g, a.u, a.dt3, a.A, a.B, a.C, a.dtA3, a.h0, dlast, a.cdt)


def _like(xp, g, x, cdt):
    """Gradient for the primal ``x``: its shape, real part for real primals, compute precision.

    Gradients arrive at the normalised shapes (steps 3-D, A (P,), h0 (B, P)): reshape, or sum
    the broadcast axes of a broadcast ``h0``.
    """
    if g is None or x is None:
        return None
    shape = tuple(x.shape)
    if _size(g) != _size(x):
        lead = g.ndim - len(shape)
        if lead:
            g = xp.sum(g, axis=tuple(range(lead)))
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if axes:
            g = xp.sum(g, axis=axes, keepdims=True)
    g = xp.reshape(g, shape)
    if xp.isdtype(x.dtype, "complex floating"):
        return xp.astype(g, cdt)
    if xp.isdtype(g.dtype, "complex floating"):
        g = xp.real(g)
    return xp.astype(g, _checks.real_dtype_of(xp, cdt))


def _size(x):
    n = 1
    for s in x.shape:
        n *= int(s)
    return n


def simplified_scan(u, delta, A, B, C, deltaA=None, return_last_state=False,
                    discretization="bilinear", *, h0=None, impl="auto"):
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
    impl : {"auto", "cuda", "generic", "reference"}

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
    a = _prepare("simplified_scan", u, delta, A, B, C, deltaA, discretization, h0)
    impl = _impl(impl, a, "simplified_scan")
    y, last = _forward(a, discretization, impl)
    return (y, last) if return_last_state else y


def simplified_scan_vjp(dout, u, delta, A, B, C, deltaA=None, return_last_state=False,
                        discretization="bilinear", *, h0=None, dlast_state=None, impl="auto"):
    r"""Vector-Jacobian product of :func:`simplified_scan`.

    Parameters
    ----------
    dout : array, shape (batch, H, L)
        Cotangent of y (real or complex).
    u, delta, A, B, C, deltaA, return_last_state, discretization, h0, impl
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
    a = _prepare("simplified_scan_vjp", u, delta, A, B, C, deltaA, discretization, h0,
                 extra=(("dout", dout), ("dlast_state", dlast_state)))
    xp = a.xp
    Bsz, H, L = a.u.shape
    P = a.A.shape[0]
    _checks.check_shape("dout", dout, (Bsz, H, L), "(batch, H, L)")
    dl = None
    if dlast_state is not None:
        _checks.check_broadcastable("dlast_state", dlast_state, (Bsz, P), "(B, P)")
        dl = xp.astype(xp.broadcast_to(dlast_state, (Bsz, P)), a.cdt)
    impl = _impl(impl, a, "simplified_scan_vjp")
    grads = _backward(a, discretization, xp.astype(dout, a.cdt), dl, impl)
    prims = (u, delta, A, B, C, deltaA, h0)
    return SimplifiedScanGrads(*(_like(xp, g, p, a.cdt) for g, p in zip(grads, prims)))


def s5_inner(u, delta, A, B, C, D, deltaA=None, discretization="bilinear", conj_sym=True, *,
             h0=None, impl="auto"):
    r"""The S5 layer's inner function: ``(2 if conj_sym else 1) * Re(C x) + D * Re(u)``.

    Parameters
    ----------
    u, delta, A, B, C, deltaA, discretization, h0, impl
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
    a = _prepare("s5_inner", u, delta, A, B, C, deltaA, discretization, h0, D=D)
    xp = a.xp
    impl = _impl(impl, a, "s5_inner")
    y, _ = _forward(a, discretization, impl)
    scale = 2.0 if conj_sym else 1.0
    Dr = xp.reshape(xp.astype(D, a.rdt), (-1, 1))
    return scale * xp.real(y) + Dr * xp.real(a.u)


def s5_inner_vjp(dout, u, delta, A, B, C, D, deltaA=None, discretization="bilinear",
                 conj_sym=True, *, h0=None, impl="auto"):
    r"""Vector-Jacobian product of :func:`s5_inner`.

    Parameters
    ----------
    dout : real array, shape (batch, H, L)
        Cotangent of ``out`` (complex raises ``TypeError``).
    u, delta, A, B, C, D, deltaA, discretization, conj_sym, h0, impl
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
    a = _prepare("s5_inner_vjp", u, delta, A, B, C, deltaA, discretization, h0, D=D,
                 extra=(("dout", dout),))
    xp = a.xp
    _checks.check_array_dtype(xp, "dout", dout, allow_complex=False)
    _checks.check_shape("dout", dout, tuple(a.u.shape), "(batch, H, L)")
    impl = _impl(impl, a, "s5_inner_vjp")
    g = xp.astype(dout, a.rdt)
    scale = 2.0 if conj_sym else 1.0
    grads = _backward(a, discretization, xp.astype(scale * g, a.cdt), None, impl)
    Dr = xp.reshape(xp.astype(D, a.rdt), (-1, 1))
    du = grads[0] + xp.astype(Dr * g, a.cdt)
    dD = xp.sum(g * xp.real(a.u), axis=(0, 2))
    du, ddt, dA, dB, dC, ddtA, dh0 = (du,) + tuple(grads[1:])
    prims = (u, delta, A, B, C, deltaA, h0)
    out = [_like(xp, gr, p, a.cdt) for gr, p in zip((du, ddt, dA, dB, dC, ddtA, dh0), prims)]
    return S5InnerGrads(*out[:5], _like(xp, dD, D, a.cdt), *out[5:])
