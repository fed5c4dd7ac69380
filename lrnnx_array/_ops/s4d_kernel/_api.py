"""S4D (diagonal) convolution kernel, its state input, step set-up and forward_state (§3.11)."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from .._shared.grads import sum_to
from ..log_vandermonde import log_vandermonde, log_vandermonde_transpose, log_vandermonde_transpose_vjp
from . import _generic

__all__ = ["s4d_kernel", "s4d_kernel_vjp", "s4d_step_setup", "s4d_step", "s4d_forward_state",
           "s4d_forward_state_vjp", "S4DKernelOut", "S4DKernelGrads", "S4DForwardStateGrads",
           "S4DStep", "DISCRETIZATIONS"]

DISCRETIZATIONS = ("zoh", "bilinear")


class S4DKernelOut(NamedTuple):
    k: object
    k_state: object


class S4DKernelGrads(NamedTuple):
    dA: object
    dB: object
    dC: object
    ddt: object
    dstate: object


class S4DForwardStateGrads(NamedTuple):
    du: object
    dstate: object
    ddA: object
    ddB: object


class S4DStep(NamedTuple):
    dA: object
    dB: object
    dC: object


def _prepare(A, B, C, dt, disc, state=None):
    names = ("A", "B", "C", "dt", "state")
    xp = namespace(A, B, C, dt, state, names=names)
    _checks.check_array_dtype(xp, "A", A, allow_real=False)
    _checks.check_array_dtype(xp, "B", B)
    _checks.check_array_dtype(xp, "C", C)
    _checks.check_array_dtype(xp, "dt", dt, allow_complex=False)
    _checks.check_option("disc", disc, DISCRETIZATIONS)
    _checks.check_ndim("A", A, 2, "(H, N/2)")
    H, N2 = A.shape
    if B.ndim == 3:
        _checks.check_shape("B", B, (1, H, N2), "(1, H, N/2) or (H, N/2)")
        B = xp.reshape(B, (H, N2))
    _checks.check_shape("B", B, (H, N2), "(H, N/2)")
    _checks.check_ndim("C", C, 3, "(channels, H, N/2)")
    _checks.check_shape("C", C, (None, H, N2), "(channels, H, N/2)")
    if tuple(dt.shape) == (H,):
        dt = xp.reshape(dt, (H, 1))
    if tuple(dt.shape) not in ((H, 1), (H, N2)):
        raise ValueError(f"dt must have shape (H,), (H, 1) or (H, N/2) with H={H}, N/2={N2}, "
                         f"got {tuple(dt.shape)}")
    for name, a in (("A", A), ("B", B), ("C", C), ("dt", dt)):
        _checks.check_finite(xp, name, a)
    if state is not None:
        _checks.check_array_dtype(xp, "state", state)
        _checks.check_ndim("state", state, 3, "(batch, H, N/2)")
        _checks.check_shape("state", state, (None, H, N2), "(batch, H, N/2)")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, A, B, C, dt, state))
    cast = (lambda a: a if a.dtype == cdt else xp.astype(a, cdt))
    rdt = _checks.real_dtype_of(xp, cdt)
    dt = dt if dt.dtype == rdt else xp.astype(dt, rdt)
    return xp, cast(A), cast(B), cast(C), dt, (None if state is None else cast(state)), cdt


def s4d_kernel(A, B, C, dt, L, *, disc="zoh", state=None, impl="auto"):
    r"""S4D convolution kernel (lrnnx ``S4DKernel.forward``) as a pure function.

    Parameters
    ----------
    A : complex array, shape (H, N/2)
        Diagonal state matrix, one mode per conjugate pair (already -f_re(A_real) - i f_im(A_imag),
        repeated to H).
    B : array, shape (H, N/2) or (1, H, N/2)
    C : array, shape (channels, H, N/2)
    dt : real array, shape (H,), (H, 1) or (H, N/2)
        Time steps (already transformed, and multiplied by ``rate`` if any).
    L : int
        Kernel length.
    disc : {"zoh", "bilinear"}
    state : array, shape (batch, H, N/2), optional
        State before step 0 (conjugate pairs implied).
    impl : {"auto", "cuda", "generic", "reference"}
        Passed to :func:`log_vandermonde` (``reference`` runs the float64 power loop).

    Returns
    -------
    S4DKernelOut
        ``k`` real (channels, H, L); ``k_state`` real (batch, channels, H, L) or None.

    Notes
    -----
    .. math:: k_l = 2\,\mathrm{Re}\sum_n C_n \bar B_n \bar A_n^{\,l},\qquad
              k^{state}_l = 2\,\mathrm{Re}\sum_n C_n \bar A_n^{\,l+1} s_n

    evaluated as ``log_vandermonde(C B̄, log Ā, L)``. lrnnx feeds the state through
    B-like coefficients ``s/Δ (1+ΔA/2)`` (bilinear) or ``s ΔA e^{ΔA}/(e^{ΔA}-1)/Δ`` (zoh), which
    times B̄'s factor is ``Ā s`` in both cases; we use ``Ā s`` directly (no 0/0 at A = 0).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s4d_kernel
    >>> A = np.array([[-0.5 + 1j]]); B = np.ones((1, 1), complex); C = np.ones((1, 1, 1), complex)
    >>> k, _ = s4d_kernel(A, B, C, np.array([0.1]), 3)
    >>> k.shape
    (1, 1, 3)
    """
    L = _checks.check_positive_int("L", L, 1)
    xp, A, B, C, dt, state, cdt = _prepare(A, B, C, dt, disc, state)
    if resolve_impl(impl, xp, what="s4d_kernel") == "reference":
        from ._ref import s4d_kernel_ref

        k, ks = s4d_kernel_ref(*(_host(xp, a) for a in (A, B, C, dt)), L, disc=disc,
                               state=_host(xp, state))
        rdt = _checks.real_dtype_of(xp, cdt)
        return S4DKernelOut(xp.asarray(k, dtype=rdt),
                            None if ks is None else xp.asarray(ks, dtype=rdt))
    x, dB = _generic.discretize(xp, A, B, dt, disc)
    k = log_vandermonde(C * dB, x, L, impl=impl)
    k_state = None
    if state is not None:
        v = C[None, ...] * (state * xp.exp(x))[:, None, ...]
        k_state = log_vandermonde(v, x, L, impl=impl)
    return S4DKernelOut(k, k_state)


def _host(xp, a):
    from ... import testing

    return testing.to_numpy(a)


def s4d_step_setup(A, B, C, dt, *, disc="zoh"):
    """Recurrence form of the S4D kernel (lrnnx ``S4DKernel._setup_step``).

    Parameters
    ----------
    A, B, C, dt
        As for :func:`s4d_kernel`: ``A`` complex (H, N/2), ``B`` (H, N/2) or (1, H, N/2),
        ``C`` (channels, H, N/2), ``dt`` real (H,), (H, 1) or (H, N/2).
    disc : {"zoh", "bilinear"}, default "zoh"
        Discretization, as for :func:`s4d_kernel`.

    Returns
    -------
    S4DStep
        ``dA`` = Ā (H, N/2), ``dB`` = B̄ (H, N/2), ``dC`` = C (channels, H, N/2), complex.
        One step is :func:`s4d_step`; iterating it L times equals the convolution with
        :func:`s4d_kernel`.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s4d_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.2 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> dA, dB, dC = s4d_step_setup(A, B, C, dt)
    >>> dA.shape, dB.shape, dC.shape
    ((1, 2), (1, 2), (1, 1, 2))
    >>> np.allclose(dA, np.exp(dt[:, None] * A))  # zoh: Ā = exp(Δ A)
    True
    """
    xp, A, B, C, dt, _, _ = _prepare(A, B, C, dt, disc)
    x, dB = _generic.discretize(xp, A, B, dt, disc)
    return S4DStep(xp.exp(x), xp.broadcast_to(dB, tuple(A.shape)), C)


def s4d_step(u, state, dA, dB, dC):
    r"""One S4D step: :math:`x' = \bar A x + \bar B u`, :math:`y = 2\,\mathrm{Re}(C x')`.

    Parameters
    ----------
    u : real array, shape (batch, H)
    state : complex array, shape (batch, H, N/2)
    dA, dB, dC : arrays from :func:`s4d_step_setup`

    Returns
    -------
    (y, new_state) : y real (batch, channels, H); the state is returned, never mutated.

    Examples
    --------
    Stepping an impulse from the zero state reproduces the convolution kernel:

    >>> import numpy as np
    >>> from lrnnx_array.ops import s4d_kernel, s4d_step, s4d_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.2 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> setup = s4d_step_setup(A, B, C, dt)
    >>> x, ys = np.zeros((1, 1, 2), complex), []
    >>> for u in (1.0, 0.0, 0.0, 0.0):
    ...     y, x = s4d_step(np.full((1, 1), u), x, *setup)
    ...     ys.append(y[0, 0, 0])
    >>> np.allclose(ys, s4d_kernel(A, B, C, dt, 4).k[0, 0])
    True
    """
    xp = namespace(u, state, dA, dB, dC, names=("u", "state", "dA", "dB", "dC"))
    _checks.check_array_dtype(xp, "u", u, allow_complex=False)
    _checks.check_ndim("u", u, 2, "(batch, H)")
    H, N2 = dA.shape
    _checks.check_shape("state", state, (u.shape[0], H, N2), "(batch, H, N/2)")
    new = dA * state + dB * u[..., None]
    y = 2 * xp.real(xp.sum(dC[None, ...] * new[:, None, ...], axis=-1))
    return y, new


def s4d_forward_state(u, state, dA, dB, *, impl="auto"):
    r"""State after running the recurrence over ``u`` (lrnnx ``S4DKernel.forward_state``).

    Parameters
    ----------
    u : real array, shape (batch, H, L)
    state : complex array, shape (batch, H, N/2), or None (zero)
    dA, dB : complex arrays, shape (H, N/2), from :func:`s4d_step_setup`

    Returns
    -------
    new_state : complex array, shape (batch, H, N/2)

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
    xp = namespace(u, state, dA, dB, names=("u", "state", "dA", "dB"))
    _checks.check_array_dtype(xp, "u", u, allow_complex=False)
    _checks.check_ndim("u", u, 3, "(batch, H, L)")
    L = u.shape[-1]
    logA = xp.log(dA)
    s = log_vandermonde_transpose(xp.flip(u, axis=-1), dB, logA, L, impl=impl)
    if state is None:
        return s
    _checks.check_shape("state", state, (u.shape[0],) + tuple(dA.shape), "(batch, H, N/2)")
    return xp.exp(L * logA) * state + s


def _grad(xp, g, like, cdt):
    """``g`` as the gradient of ``like``: its kind (real part if real), ``cdt``'s precision."""
    if g is None:
        return None
    if not xp.isdtype(like.dtype, "complex floating"):
        rdt = _checks.real_dtype_of(xp, cdt)
        g = xp.real(g) if xp.isdtype(g.dtype, "complex floating") else g
        return g if g.dtype == rdt else xp.astype(g, rdt)
    return g if g.dtype == cdt else xp.astype(g, cdt)


def _pair(dout, what):
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        raise TypeError(f"dout must be the pair {what} (an S4DKernelOut or a 2-tuple), got "
                        f"{type(dout).__name__}")
    return tuple(dout)


def s4d_kernel_vjp(dout, A, B, C, dt, L, *, disc="zoh", state=None, impl="auto"):
    r"""Vector-Jacobian product of :func:`s4d_kernel`.

    Parameters
    ----------
    dout : pair ``(dk, dk_state)``
        Cotangents of :class:`S4DKernelOut`: ``dk`` real (channels, H, L), ``dk_state`` real
        (batch, channels, H, L); either may be None (zero), ``dk_state`` must be None without
        ``state``.
    A, B, C, dt, L, disc, state, impl
        As for :func:`s4d_kernel` (``impl`` is passed to :func:`log_vandermonde_vjp`;
        ``reference`` runs the float64 reverse loop over l).

    Returns
    -------
    S4DKernelGrads
        ``(dA, dB, dC, ddt, dstate)`` shaped like the inputs (``dB`` like ``B``, ``ddt`` like
        ``dt``, summed over the modes for (H,) and (H, 1)); ``dstate`` None without ``state``.
        PyTorch's complex convention; real inputs (dt, and B, C or state when given real) get
        real gradients at the computation's precision.

    Notes
    -----
    The chain rule through :math:`k = \mathrm{Vand}(C\bar B, x, L)` and
    :math:`k^{state} = \mathrm{Vand}(C\,e^{x} s, x, L)` uses :func:`log_vandermonde_vjp`, then
    the discretization with :math:`z = \Delta A`:

    * zoh: :math:`x = z`, :math:`\bar B = \Delta\varphi_1(z) B`,
      :math:`\partial_A \bar B = \Delta^2\varphi_1'(z) B`, :math:`\partial_\Delta \bar B = e^z B`
      (:math:`\varphi_1(z) = \mathrm{expm1}(z)/z` and its derivative without cancellation);
    * bilinear: :math:`x = \log\frac{1+z/2}{1-z/2}`, :math:`\partial_z x = 1/(1-z^2/4)`,
      :math:`\bar B = \Delta B/(1-z/2)`, :math:`\partial_A\bar B = \Delta^2 B/(2(1-z/2)^2)`,
      :math:`\partial_\Delta\bar B = B/(1-z/2)^2`.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s4d_kernel_vjp
    >>> A = np.array([[-0.5 + 1j]]); B = np.ones((1, 1), complex); C = np.ones((1, 1, 1), complex)
    >>> g = s4d_kernel_vjp((np.ones((1, 1, 3)), None), A, B, C, np.array([0.1]), 3)
    >>> g.ddt.shape, g.dstate is None
    ((1,), True)
    """
    dk, dks = _pair(dout, "(dk, dk_state)")
    L = _checks.check_positive_int("L", L, 1)
    namespace(A, B, C, dt, state, dk, dks, names=("A", "B", "C", "dt", "state", "dk", "dk_state"))
    A0, B0, C0, dt0, s0 = A, B, C, dt, state
    xp, A, B, C, dt, state, cdt = _prepare(A, B, C, dt, disc, state)
    H, N2 = A.shape
    if dk is not None:
        _checks.check_array_dtype(xp, "dk", dk, allow_complex=False)
        _checks.check_broadcastable("dk", dk, (C.shape[0], H, L), "the shape of k")
    if dks is not None:
        if state is None:
            raise ValueError("dk_state must be None when state is None (there is no k_state)")
        _checks.check_array_dtype(xp, "dk_state", dks, allow_complex=False)
        _checks.check_broadcastable("dk_state", dks, (state.shape[0], C.shape[0], H, L),
                                    "the shape of k_state")
    impl = resolve_impl(impl, xp, what="s4d_kernel_vjp")
    if impl == "reference":
        from ._ref import s4d_kernel_vjp_ref

        host = [_host(xp, a) for a in (A, B, C, dt, state, dk, dks)]
        g = s4d_kernel_vjp_ref((host[5], host[6]), *host[:4], L, disc=disc, state=host[4])
        gA, gB, gC, gdt, gs = (None if a is None else xp.asarray(a) for a in g)
    else:
        rdt = _checks.real_dtype_of(xp, cdt)
        dk, dks = (a if a is None or a.dtype == rdt else xp.astype(a, rdt) for a in (dk, dks))
        gA, gB, gC, gdt, gs = _generic.kernel_vjp(xp, A, B, C, dt, L, disc, state, dk, dks, impl)
        gdt = sum_to(xp, gdt, tuple(dt.shape))
    gB = xp.reshape(gB, tuple(B0.shape))
    gdt = xp.reshape(gdt, tuple(dt0.shape))
    return S4DKernelGrads(_grad(xp, gA, A0, cdt), _grad(xp, gB, B0, cdt), _grad(xp, gC, C0, cdt),
                          _grad(xp, gdt, dt0, cdt), _grad(xp, gs, s0, cdt))


def s4d_forward_state_vjp(dout, u, state, dA, dB, *, impl="auto"):
    r"""Vector-Jacobian product of :func:`s4d_forward_state`.

    Parameters
    ----------
    dout : complex array, shape (batch, H, N/2)
        Cotangent of the new state.
    u, state, dA, dB, impl
        As for :func:`s4d_forward_state`.

    Returns
    -------
    S4DForwardStateGrads
        ``(du, dstate, ddA, ddB)`` shaped like the inputs (``du`` real, ``dstate`` None when
        ``state`` is None), PyTorch's complex convention.

    Notes
    -----
    With :math:`x = \log\bar A` and :math:`g` = ``dout``, through
    :func:`log_vandermonde_transpose_vjp` (on the flipped input) plus the
    :math:`\bar A^L s` term: :math:`ds = g\,\overline{\bar A^L}`,
    :math:`dx \mathrel{+}= \sum_b g\,\overline{L\bar A^L s}`, then
    :math:`d\bar A = dx / \overline{\bar A}` (the derivative of :math:`\log\bar A`).

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
    xp = namespace(dout, u, state, dA, dB, names=("dout", "u", "state", "dA", "dB"))
    _checks.check_array_dtype(xp, "u", u, allow_complex=False)
    _checks.check_ndim("u", u, 3, "(batch, H, L)")
    _checks.check_array_dtype(xp, "dout", dout)
    _checks.check_ndim("dA", dA, 2, "(H, N/2)")
    _checks.check_shape("dB", dB, tuple(dA.shape), "(H, N/2) like dA")
    shape = (u.shape[0],) + tuple(dA.shape)
    if state is not None:
        _checks.check_shape("state", state, shape, "(batch, H, N/2)")
    _checks.check_broadcastable("dout", dout, shape, "the new state's shape")
    L = _checks.check_positive_int("L (u.shape[-1])", u.shape[-1], 1)
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, state, dA, dB, dout))
    impl = resolve_impl(impl, xp, what="s4d_forward_state_vjp")
    if impl == "reference":
        from ._ref import s4d_forward_state_vjp_ref

        g = s4d_forward_state_vjp_ref(dout, u, state, dA, dB)
        du, ds, gA, gB = (None if a is None else xp.asarray(a) for a in g)
    else:
        cast = (lambda a: a if a.dtype == cdt else xp.astype(a, cdt))
        A_, B_, g = cast(dA), cast(dB), cast(xp.broadcast_to(dout, shape))
        logA = xp.log(A_)
        duf, gB, gx = log_vandermonde_transpose_vjp(g, xp.flip(u, axis=-1), B_, logA, L,
                                                    impl=impl)
        du = xp.flip(duf, axis=-1)
        ds = None
        if state is not None:
            P = xp.exp(L * logA)
            ds = g * xp.conj(P)
            gx = gx + xp.sum(g * xp.conj(L * P * cast(state)), axis=0)
        gA = gx / xp.conj(A_)
    return S4DForwardStateGrads(_grad(xp, du, u, cdt), _grad(xp, ds, state, cdt),
                                _grad(xp, gA, dA, cdt), _grad(xp, gB, dB, cdt))
