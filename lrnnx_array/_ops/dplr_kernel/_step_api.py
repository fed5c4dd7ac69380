"""Step modes of the S4 DPLR family: set-up, zero state and one recurrent step (public)."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, check_flag, check_number, namespace_of
from ._api import SPEC, children
from ._shapes import cast, prepare

__all__ = ["dplr_step_setup", "dplr_step", "dplr_default_state", "DenseStep", "LinearStep",
           "DiagonalStep", "STEP_MODES"]

STEP_MODES = ("dense", "linear", "diagonal")


class DenseStep(NamedTuple):
    """x' = dA x + dB u, y = Re(dC x'); state (batch, H, N)."""

    dA: object
    dB: object
    dC: object


class LinearStep(NamedTuple):
    """Woodbury bilinear step on the half state (batch, H, N/2); y = Re(dC x'), dC = 2 C."""

    D: object
    E: object
    P: object
    R: object
    B: object
    dC: object


class DiagonalStep(NamedTuple):
    """Eigenbasis of dA: x' = dA ⊙ x + dB u, y = Re(dC x'); state (batch, H, N)."""

    dA: object
    dB: object
    dC: object


_MODE_OF = {DenseStep: "dense", LinearStep: "linear", DiagonalStep: "diagonal"}


def dplr_step_setup(A, B, C, P, dt, *, mode="dense", C_is_tilde=False, l_kernel=None,
                    host_eig=False, check_finite=True, dt_tie=True):
    r"""Recurrent form of the DPLR kernel (lrnnx ``S4Kernel._setup_step``), as arrays.

    Parameters
    ----------
    A, B, C, P, dt, dt_tie
        As for :func:`dplr_kernel` (rate 1); with ``dt_tie=False`` dt is (H, N/2), one step per
        mode, and D, E below are per mode.
    mode : {"dense", "linear", "diagonal"}
        ``dense``: :class:`DenseStep` (dA (H, N, N), dB (H, N), dC = C_f (channels, H, N)).
        ``linear``: :class:`LinearStep`, the O(N r) Woodbury bilinear step on the half state
        (D = (2/Δ - Λ)^{-1}, E = 2/Δ + Λ, R = (I + 2 Re(P^H D P))^{-1} P^H D, dC = 2 C).
        ``diagonal``: :class:`DiagonalStep`, dA = eig(Ā) (H, N), dB = V^{-1} B̄, dC = C_f V.
    C_is_tilde, l_kernel
        With ``C_is_tilde=True`` C is C̃ for length ``l_kernel`` and C is recovered first (as
        lrnnx's dC = (I - Ā^{l_kernel})^{-T} C̃).
    host_eig : bool, default False
        ``mode="diagonal"`` needs a general eigendecomposition of Ā (H, N, N). NumPy and
        array_api_strict compute it in place; CuPy has no ``linalg.eig``, so there the call
        raises ``ValueError`` unless ``host_eig=True``, which copies Ā to the host, decomposes
        it with NumPy and copies the factors back to the device (a one-off of O(H N^2) bytes;
        nothing is copied otherwise).
    check_finite : bool, default True
        Whether to check that the parameters contain only finite numbers and that ``dt > 0``.
        Disabling may give a performance gain (no device synchronisation), but may give
        NaN/inf results if they do contain infinities, NaNs or non-positive steps.

    Returns
    -------
    DenseStep | LinearStep | DiagonalStep
        Use with :func:`dplr_step` and :func:`dplr_default_state`. Iterating the step L times
        equals the convolution with ``dplr_kernel(..., L)``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> dense = dplr_step_setup(A, B, C, P, dt)
    >>> dense.dA.shape, dense.dB.shape, dense.dC.shape
    ((1, 4, 4), (1, 4), (1, 1, 4))
    >>> linear = dplr_step_setup(A, B, C, P, dt, mode="linear")
    >>> linear.D.shape, linear.R.shape, linear.dC.shape
    ((1, 2), (1, 1, 2), (1, 1, 2))
    >>> diagonal = dplr_step_setup(A, B, C, P, dt, mode="diagonal")
    >>> diagonal.dA.shape
    (1, 4)
    """
    _checks.check_option("mode", mode, STEP_MODES)
    check_flag("C_is_tilde", C_is_tilde)
    check_flag("host_eig", host_eig)
    if C_is_tilde:
        if l_kernel is None:
            raise ValueError("l_kernel is required when C_is_tilde=True")
        l_kernel = check_number("l_kernel", l_kernel, integer=True, minimum=1)
    xp = SPEC.validate({"A": A, "B": B, "C": C, "P": P, "dt": dt}, check_finite=check_finite)
    p = prepare(xp, A, B, C, P, dt, check_finite=check_finite, dt_tie=dt_tie)
    name = SPEC.resolve("auto", xp, p.cdt)
    from ._steps import EigUnavailableError

    try:
        arrays = SPEC.get(name, "step_setup")(
            xp, p.A, p.B, p.C, p.P, p.dt, mode=mode, C_is_tilde=bool(C_is_tilde),
            l_kernel=l_kernel, host_eig=bool(host_eig),
            matrix_power=children(name).matrix_power)
    except EigUnavailableError:
        raise ValueError(
            f"mode='diagonal' needs a general eigendecomposition, which "
            f"{getattr(xp, '__name__', xp)} does not provide on the device; pass "
            "host_eig=True to compute it on the host (copies dA to the host and back), or use "
            "mode='dense' or 'linear'"
        ) from None
    return {"dense": DenseStep, "linear": LinearStep, "diagonal": DiagonalStep}[mode](*arrays)


def _check_setup(setup):
    if not isinstance(setup, (DenseStep, LinearStep, DiagonalStep)):
        raise TypeError(f"setup must come from dplr_step_setup, got {type(setup).__name__}")
    for field, a in zip(type(setup)._fields, setup):
        if a is None and not (isinstance(setup, LinearStep) and field in ("P", "R")):
            raise TypeError(f"setup.{field} is required (an array), got None")


def dplr_default_state(setup, batch):
    """Zero state for ``setup``: (batch, H, N) for dense/diagonal, (batch, H, N/2) for linear.

    Parameters
    ----------
    setup : DenseStep | LinearStep | DiagonalStep
        From :func:`dplr_step_setup`.
    batch : int
        Batch size (>= 0).

    Returns
    -------
    state : complex array of zeros
        Shape (batch, H, N) for dense and diagonal setups, (batch, H, N/2) for linear; dtype of
        the setup's arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_default_state, dplr_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> dplr_default_state(dplr_step_setup(A, B, C, P, dt), 3).shape
    (3, 1, 4)
    >>> dplr_default_state(dplr_step_setup(A, B, C, P, dt, mode="linear"), 3).shape
    (3, 1, 2)
    """
    _check_setup(setup)
    batch = check_number("batch", batch, integer=True, minimum=0)
    ref = setup.D if isinstance(setup, LinearStep) else setup.dB
    xp = namespace_of({"setup": ref})
    return xp.zeros((batch,) + tuple(ref.shape), dtype=setup.dC.dtype)


_REQUIRED_STATE = {"state": Arg("state")}


def dplr_step(u, state, setup, *, check_finite=True):
    r"""One recurrent step of the DPLR SSM; returns ``(y, new_state)`` (nothing is mutated).

    Parameters
    ----------
    u : real array, shape (batch, H)
    state : complex array, (batch, H, N) (dense, diagonal) or (batch, H, N/2) (linear)
    setup : DenseStep | LinearStep | DiagonalStep from :func:`dplr_step_setup`
    check_finite : bool, default True
        Whether to check that the set-up's arrays contain only finite numbers (``u`` and
        ``state`` are activations and are not checked). A decode loop passes False after one
        checked call: then no value is read (no device synchronisation).

    Returns
    -------
    y : real array, shape (batch, channels, H)
        Re(dC · x').
    new_state : complex array, shape of ``state``
        In the promoted complex dtype of ``u``, ``state`` and the set-up (never demoted).

    Examples
    --------
    Stepping an impulse through every mode reproduces the convolution kernel:

    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_default_state, dplr_kernel, dplr_step, dplr_step_setup
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> k = dplr_kernel(A, B, C, P, dt, 4).k[0, 0]
    >>> for mode in ("dense", "linear", "diagonal"):
    ...     setup = dplr_step_setup(A, B, C, P, dt, mode=mode)
    ...     x, ys = dplr_default_state(setup, 1), []
    ...     for u in (1.0, 0.0, 0.0, 0.0):
    ...         y, x = dplr_step(np.full((1, 1), u), x, setup)
    ...         ys.append(y[0, 0, 0])
    ...     print(mode, np.allclose(ys, k))
    dense True
    linear True
    diagonal True
    """
    _check_setup(setup)
    fields = dict(zip(type(setup)._fields, setup))
    arrays = {"u": u, "state": state, **fields}
    # The set-up's arrays are parameters; the state is required here (optional in dplr_kernel).
    xp = SPEC.validate(arrays, check_finite=check_finite, extra=_REQUIRED_STATE)
    _checks.check_ndim("u", u, 2, "(batch, H)")
    ref = setup.D if isinstance(setup, LinearStep) else setup.dB
    H = ref.shape[0]
    if u.shape[1] != H:
        raise ValueError(f"u must have shape (batch, H) with H={H} (the set-up's channels), "
                         f"got {tuple(u.shape)}")
    want = (u.shape[0],) + tuple(ref.shape)
    _checks.check_shape("state", state, want, "(batch, H, state size of this step mode)")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, state, *fields.values()))
    name = SPEC.resolve("auto", xp, cdt)
    rdt = _checks.real_dtype_of(xp, cdt)
    return SPEC.get(name, "step")(
        xp, cast(xp, u, rdt), cast(xp, state, cdt), tuple(cast(xp, a, cdt) for a in setup),
        mode=_MODE_OF[type(setup)])
