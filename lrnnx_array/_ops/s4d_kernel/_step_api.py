"""S4D recurrence form: the step set-up (Ā, B̄, C) and one decode step (public)."""

from __future__ import annotations

from ... import _checks
from ._api import SPEC, S4DStep, _cast, _prepare

__all__ = ["s4d_step_setup", "s4d_step"]


def s4d_step_setup(A, B, C, dt, *, disc="zoh", check_finite=True):
    """Recurrence form of the S4D kernel (lrnnx ``S4DKernel._setup_step``).

    Parameters
    ----------
    A, B, C, dt
        As for :func:`s4d_kernel`: ``A`` complex (H, N/2), ``B`` (H, N/2) or (1, H, N/2),
        ``C`` (channels, H, N/2), ``dt`` real (H,), (H, 1) or (H, N/2).
    disc : {"zoh", "bilinear"}, default "zoh"
        Discretization, as for :func:`s4d_kernel`.
    check_finite : bool, default True
        Whether to check that the parameters ``A``, ``B``, ``C`` and ``dt`` contain only finite
        numbers. Disabling may give a performance gain (no device synchronisation), but may
        give NaN/inf results if they do contain infinities or NaNs.

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
    xp = SPEC.validate({"A": A, "B": B, "C": C, "dt": dt}, options={"disc": disc},
                       check_finite=check_finite)
    A, B, C, dt, _, cdt = _prepare(xp, A, B, C, dt)
    name = SPEC.resolve("auto", xp, cdt)
    return S4DStep(*SPEC.get(name, "step_setup")(xp, A, B, C, dt, disc=disc))


def _step_shapes(dA, dB, dC):
    _checks.check_ndim("dA", dA, 2, "(H, N/2)")
    _checks.check_shape("dB", dB, tuple(dA.shape), "(H, N/2) like dA")
    if dC is not None:
        _checks.check_ndim("dC", dC, 3, "(channels, H, N/2)")
        _checks.check_shape("dC", dC, (None,) + tuple(dA.shape), "(channels, H, N/2)")
    return dA.shape


def s4d_step(u, state, dA, dB, dC, *, check_finite=True):
    r"""One S4D step: :math:`x' = \bar A x + \bar B u`, :math:`y = 2\,\mathrm{Re}(C x')`.

    Parameters
    ----------
    u : real array, shape (batch, H)
    state : complex array, shape (batch, H, N/2)
    dA, dB, dC : arrays from :func:`s4d_step_setup`
        dA, dB (H, N/2), dC (channels, H, N/2).
    check_finite : bool, default True
        Whether to check that ``dA``, ``dB`` and ``dC`` contain only finite numbers (``u`` and
        ``state`` are activations). A decode loop passes False after one checked call: then no
        value is read (no device synchronisation).

    Returns
    -------
    (y, new_state) : y real (batch, channels, H); the state is returned, never mutated, in the
        promoted complex dtype of all the inputs (never demoted).

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
    xp = SPEC.validate({"u": u, "state": state, "dA": dA, "dB": dB, "dC": dC},
                       check_finite=check_finite)
    if state is None:
        raise TypeError("s4d_step: state is required (an array), got None")
    H, N2 = _step_shapes(dA, dB, dC)
    _checks.check_ndim("u", u, 2, "(batch, H)")
    if u.shape[1] != H:
        raise ValueError(f"u must have shape (batch, {H}) (dA's H), got {tuple(u.shape)}")
    _checks.check_shape("state", state, (u.shape[0], H, N2), "(batch, H, N/2)")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, state, dA, dB, dC))
    name = SPEC.resolve("auto", xp, cdt)
    return SPEC.get(name, "step")(xp, _cast(xp, u, _checks.real_dtype_of(xp, cdt)),
                                  *(_cast(xp, a, cdt) for a in (state, dA, dB, dC)))
