"""S4D (diagonal) convolution kernel, its state input, step set-up and forward_state (§3.11)."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from ..vandermonde import log_vandermonde, log_vandermonde_transpose

__all__ = ["s4d_kernel", "s4d_step_setup", "s4d_step", "s4d_forward_state",
           "S4DKernelOut", "S4DStep", "DISCRETIZATIONS"]

DISCRETIZATIONS = ("zoh", "bilinear")


class S4DKernelOut(NamedTuple):
    k: object
    k_state: object


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


def _discretize(xp, A, B, dt, disc):
    """(log Ā, B̄) per mode.

    zoh: Ā = e^{ΔA}, B̄ = (e^{ΔA}-1)/A B; bilinear: Ā = (1+ΔA/2)/(1-ΔA/2), B̄ = Δ/(1-ΔA/2) B.
    """
    dtA = dt * A
    if disc == "zoh":
        return dtA, xp.expm1(dtA) / A * B
    half = dtA / 2
    return xp.log((1 + half) / (1 - half)), dt / (1 - half) * B


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
    >>> from lrnnx_array.ops.s4d_kernel import s4d_kernel
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
    x, dB = _discretize(xp, A, B, dt, disc)
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

    Returns
    -------
    S4DStep
        ``dA`` = Ā (H, N/2), ``dB`` = B̄ (H, N/2), ``dC`` = C (channels, H, N/2), complex.
        One step is :func:`s4d_step`; iterating it L times equals the convolution with
        :func:`s4d_kernel`.
    """
    xp, A, B, C, dt, _, _ = _prepare(A, B, C, dt, disc)
    x, dB = _discretize(xp, A, B, dt, disc)
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
