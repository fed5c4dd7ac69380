"""S4D forward_state: the state after a whole sequence, and its VJP (public)."""

from __future__ import annotations

from ... import _checks
from ..._dispatch import Arg
from ._api import SPEC, S4DForwardStateGrads, _cast, _grad, _lv
from ._step_api import _step_shapes

__all__ = ["s4d_forward_state", "s4d_forward_state_vjp"]

_STATE_COTANGENT = {"dout": Arg("dout")}


def _forward_state_shapes(u, state, dA, dB):
    H, N2 = _step_shapes(dA, dB, None)
    _checks.check_ndim("u", u, 3, "(batch, H, L)")
    if u.shape[1] != H:
        raise ValueError(f"u must have shape (batch, {H}, L) (dA's H), got {tuple(u.shape)}")
    if state is not None:
        _checks.check_shape("state", state, (u.shape[0], H, N2), "(batch, H, N/2)")
    return (u.shape[0], H, N2)


def s4d_forward_state(u, state, dA, dB, *, impl="auto", check_finite=True):
    r"""State after running the recurrence over ``u`` (lrnnx ``S4DKernel.forward_state``).

    Parameters
    ----------
    u : real array, shape (batch, H, L)
    state : complex array, shape (batch, H, N/2), or None (zero)
    dA, dB : complex arrays, shape (H, N/2), from :func:`s4d_step_setup`
        An Ā that underflowed to 0 (dt·|Re A| huge) is valid: that mode forgets at once.
    impl : {"auto", "cuda", "generic", "reference"}
        As for :func:`s4d_kernel`.
    check_finite : bool, default True
        Whether to check that ``dA`` and ``dB`` contain only finite numbers.

    Returns
    -------
    new_state : complex array, shape (batch, H, N/2)
        In the promoted complex dtype of ``u``, ``state``, ``dA`` and ``dB`` (never demoted).

    Notes
    -----
    .. math:: x_L = \bar A^L x + \sum_{l<L} \bar A^{L-1-l}\bar B u_l
              = \bar A^L x + \mathrm{VandT}(\mathrm{flip}(u), \bar B, \log\bar A)

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s4d_forward_state, s4d_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.2 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> dA, dB, _ = s4d_step_setup(A, B, C, dt)
    >>> u = np.random.default_rng(0).normal(size=(2, 1, 5))
    >>> x = np.zeros((2, 1, 2), complex)
    >>> for t in range(5):
    ...     x = dA * x + dB * u[:, :, t, None]
    >>> np.allclose(s4d_forward_state(u, None, dA, dB), x)
    True

    Running in two chunks, passing the state on, gives the same state:

    >>> x2 = s4d_forward_state(u[..., 2:], s4d_forward_state(u[..., :2], None, dA, dB), dA, dB)
    >>> np.allclose(x2, x)
    True
    """
    xp = SPEC.validate({"u": u, "state": state, "dA": dA, "dB": dB}, check_finite=check_finite)
    shape = _forward_state_shapes(u, state, dA, dB)
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, state, dA, dB))
    name = SPEC.resolve(impl, xp, cdt)
    if u.shape[-1] == 0:  # no steps: the state is unchanged
        return xp.zeros(shape, dtype=cdt) if state is None else _cast(xp, state, cdt)
    return SPEC.get(name, "forward_state")(
        xp, _cast(xp, u, _checks.real_dtype_of(xp, cdt)),
        *(_cast(xp, a, cdt) for a in (state, dA, dB)),
        lv=None if name == "reference" else _lv(name))


def s4d_forward_state_vjp(dout, u, state, dA, dB, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`s4d_forward_state`.

    Parameters
    ----------
    dout : complex array, shape (batch, H, N/2)
        Cotangent of the new state.
    u, state, dA, dB, impl, check_finite
        As for :func:`s4d_forward_state`.

    Returns
    -------
    S4DForwardStateGrads
        ``(du, dstate, ddA, ddB)`` shaped like the inputs (``du`` real, ``dstate`` None when
        ``state`` is None), PyTorch's complex convention.

    Notes
    -----
    With :math:`f` = flip(``u``) and :math:`g` = ``dout``, :math:`x_L = \bar A^L s + \bar B
    \sum_m f_m \bar A^m`. ``du`` and ``ddB`` come from :func:`log_vandermonde_transpose_vjp`;
    :math:`ds = g\,\overline{\bar A^L}`; and
    :math:`d\bar A = \sum_b g\,\overline{L\bar A^{L-1}s + \bar B\sum_{j<L-1}(j+1)f_{j+1}
    \bar A^j}`, a transposed Vandermonde product of length L-1. Nothing is divided by
    :math:`\bar A`, so an :math:`\bar A` that underflowed to 0 gets its exact gradient.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s4d_forward_state, s4d_forward_state_vjp, s4d_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.2 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> dA, dB, _ = s4d_step_setup(A, B, C, dt)
    >>> rng = np.random.default_rng(0)
    >>> u = rng.normal(size=(2, 1, 5))
    >>> s = rng.normal(size=(2, 1, 2)) + 1j * rng.normal(size=(2, 1, 2))
    >>> dout = rng.normal(size=(2, 1, 2)) + 1j * rng.normal(size=(2, 1, 2))
    >>> g = s4d_forward_state_vjp(dout, u, s, dA, dB)
    >>> g.du.shape, g.du.dtype, g.dstate.shape, g.ddA.shape, g.ddB.shape
    ((2, 1, 5), dtype('float64'), (2, 1, 2), (1, 2), (1, 2))

    The new state is linear in ``u`` (from a zero state), so
    ``Re<dout, s4d_forward_state(v, None, dA, dB)> == <du, v>``:

    >>> v = rng.normal(size=u.shape)
    >>> lhs = np.vdot(dout, s4d_forward_state(v, None, dA, dB)).real
    >>> np.allclose(lhs, np.sum(g.du * v))
    True
    """
    xp = SPEC.validate({"dout": dout, "u": u, "state": state, "dA": dA, "dB": dB},
                       check_finite=check_finite, extra=_STATE_COTANGENT)
    shape = _forward_state_shapes(u, state, dA, dB)
    _checks.check_broadcastable("dout", dout, shape, "the new state's shape")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, state, dA, dB, dout))
    name = SPEC.resolve(impl, xp, cdt)
    g = _cast(xp, xp.broadcast_to(dout, shape), cdt)
    if u.shape[-1] == 0:  # no steps: the new state is the state itself
        zero = xp.zeros(tuple(dA.shape), dtype=cdt)
        return S4DForwardStateGrads(_grad(xp, xp.zeros(tuple(u.shape), dtype=cdt), u, cdt),
                                    _grad(xp, g, state, cdt), _grad(xp, zero, dA, cdt),
                                    _grad(xp, zero, dB, cdt))
    du, ds, gA, gB = SPEC.get(name, "forward_state_vjp")(
        xp, g, _cast(xp, u, _checks.real_dtype_of(xp, cdt)),
        *(_cast(xp, a, cdt) for a in (state, dA, dB)),
        lv=None if name == "reference" else _lv(name))
    return S4DForwardStateGrads(_grad(xp, du, u, cdt), _grad(xp, ds, state, cdt),
                                _grad(xp, gA, dA, cdt), _grad(xp, gB, dB, cdt))
