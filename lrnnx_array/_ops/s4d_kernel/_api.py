"""S4D (diagonal) convolution kernel and its VJP (§3.11); the family's one SPEC and shape rules.

The step set-up and decode step live in ``_step_api``, forward_state and its VJP in
``_state_api``; all share this module's SPEC, ``_prepare``, ``_cast`` and ``_grad``.
"""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec, check_number, float_dtypes
from .._shared.grads import grad_dtype
from ..log_vandermonde._api import SPEC as LV_SPEC

__all__ = ["s4d_kernel", "s4d_kernel_vjp", "S4DKernelOut", "S4DKernelGrads",
           "S4DForwardStateGrads", "S4DStep", "DISCRETIZATIONS", "SPEC"]

DISCRETIZATIONS = ("zoh", "bilinear")

# One declaration for the family. "cuda" is the generic module with the log-Vandermonde CUDA
# kernel as its child (no S4D kernel of its own), so CuPy arrays resolve to it under "auto".
SPEC = OpSpec(
    "s4d_kernel",
    __package__,
    (
        Arg("A", "complex", param=True), Arg("B", param=True), Arg("C", param=True),
        Arg("dt", "real", param=True), Arg("state", required=False), Arg("u", "real"),
        Arg("dA", param=True), Arg("dB", param=True), Arg("dC", param=True),
    ),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_generic"},
    supports={"cuda": float_dtypes("complex64", "complex128")},
    options={"disc": DISCRETIZATIONS},
)
_KERNEL_COTANGENTS = {"dk": Arg("dk", "real", required=False),
                      "dk_state": Arg("dk_state", "real", required=False)}


def _lv(name):
    """The log_vandermonde implementation that the resolved ``name`` composes."""
    from ._generic import LV

    return LV(*(LV_SPEC.get(name, fn) for fn in LV._fields))


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


def _cast(xp, a, dtype):
    return None if a is None else (a if a.dtype == dtype else xp.astype(a, dtype))


def _prepare(xp, A, B, C, dt, state=None):
    """Shape rules (no values read); everything cast to one promoted complex dtype."""
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
    if state is not None:
        _checks.check_ndim("state", state, 3, "(batch, H, N/2)")
        _checks.check_shape("state", state, (None, H, N2), "(batch, H, N/2)")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, A, B, C, dt, state))
    rdt = _checks.real_dtype_of(xp, cdt)
    return (_cast(xp, A, cdt), _cast(xp, B, cdt), _cast(xp, C, cdt), _cast(xp, dt, rdt),
            _cast(xp, state, cdt), cdt)


def _grad(xp, g, like, cdt):
    """``g`` as the gradient of ``like``: its shape and kind at the computation's precision."""
    if g is None or like is None:
        return None
    want = grad_dtype(xp, like.dtype, cdt)
    if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(want, "complex floating"):
        g = xp.real(g)
    g = xp.reshape(g, tuple(like.shape))
    return g if g.dtype == want else xp.astype(g, want)


def s4d_kernel(A, B, C, dt, L, *, disc="zoh", state=None, impl="auto", check_finite=True):
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
        Resolved once here: ``cuda`` runs the log-Vandermonde kernel, ``reference`` the float64
        power loop.
    check_finite : bool, default True
        Whether to check that the parameters ``A``, ``B``, ``C`` and ``dt`` contain only finite
        numbers. Disabling may give a performance gain (no device synchronisation), but may
        give NaN/inf results if they do contain infinities or NaNs.

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
    L = check_number("L", L, integer=True, minimum=1)
    xp = SPEC.validate({"A": A, "B": B, "C": C, "dt": dt, "state": state},
                       options={"disc": disc}, check_finite=check_finite)
    A, B, C, dt, state, cdt = _prepare(xp, A, B, C, dt, state)
    name = SPEC.resolve(impl, xp, cdt)
    k, ks = SPEC.get(name, "kernel")(xp, A, B, C, dt, state, L, disc=disc,
                                     lv=None if name == "reference" else _lv(name))
    return S4DKernelOut(k, ks)


def _pair(dout, what):
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        raise TypeError(f"dout must be the pair {what} (an S4DKernelOut or a 2-tuple), got "
                        f"{type(dout).__name__}")
    return tuple(dout)


def s4d_kernel_vjp(dout, A, B, C, dt, L, *, disc="zoh", state=None, impl="auto",
                   check_finite=True):
    r"""Vector-Jacobian product of :func:`s4d_kernel`.

    Parameters
    ----------
    dout : pair ``(dk, dk_state)``
        Cotangents of :class:`S4DKernelOut`: ``dk`` real (channels, H, L), ``dk_state`` real
        (batch, channels, H, L); either may be None (zero), ``dk_state`` must be None without
        ``state``.
    A, B, C, dt, L, disc, state, impl, check_finite
        As for :func:`s4d_kernel` (``reference`` runs the float64 reverse loop over l).

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
    L = check_number("L", L, integer=True, minimum=1)
    args = {"A": A, "B": B, "C": C, "dt": dt, "state": state}
    xp = SPEC.validate({**args, "dk": dk, "dk_state": dks}, options={"disc": disc},
                       check_finite=check_finite, extra=_KERNEL_COTANGENTS)
    A_, B_, C_, dt_, s_, cdt = _prepare(xp, A, B, C, dt, state)
    H = A_.shape[0]
    if dk is not None:
        _checks.check_broadcastable("dk", dk, (C_.shape[0], H, L), "the shape of k")
    if dks is not None:
        if state is None:
            raise ValueError("dk_state must be None when state is None (there is no k_state)")
        _checks.check_broadcastable("dk_state", dks, (state.shape[0], C_.shape[0], H, L),
                                    "the shape of k_state")
    name = SPEC.resolve(impl, xp, cdt)
    rdt = _checks.real_dtype_of(xp, cdt)
    gA, gB, gC, gdt, gs = SPEC.get(name, "kernel_vjp")(
        xp, A_, B_, C_, dt_, s_, L, _cast(xp, dk, rdt), _cast(xp, dks, rdt), disc=disc,
        lv=None if name == "reference" else _lv(name))
    gdt = _sum_to_dt(xp, gdt, dt_)
    return S4DKernelGrads(*(_grad(xp, g, x, cdt) for g, x in
                            zip((gA, gB, gC, gdt, gs), args.values())))


def _sum_to_dt(xp, gdt, dt):
    from .._shared.grads import sum_to

    return sum_to(xp, gdt, tuple(dt.shape))
