"""C̃ utilities of the S4 DPLR family: the dense discretisation, C̃ = C (I - Ā^L), its inverse and
lrnnx's length doubling (public functions; the maths is in ``_dense``)."""

from __future__ import annotations

from ..._dispatch import check_number
from ._api import SPEC, children
from ._shapes import prepare

__all__ = ["dplr_dense", "c_tilde", "c_from_tilde", "double_length"]


def _setup(arrays, check_finite, *, C_name="C", dt_tie=True):
    """Validate, prepare and resolve once: (xp, params, generic-or-cuda impl name)."""
    xp = SPEC.validate(arrays, check_finite=check_finite)
    p = prepare(xp, arrays["A"], arrays.get("B"), arrays.get(C_name), arrays["P"], arrays["dt"],
                C_name=C_name, check_finite=check_finite, dt_tie=dt_tie)
    return xp, p, SPEC.resolve("auto", xp, p.cdt)


def dplr_dense(A, P, B, dt, *, check_finite=True, dt_tie=True):
    r"""Dense bilinear discretisation of the DPLR system in the conj-expanded basis.

    Parameters
    ----------
    A : complex array, shape (H, N/2)
        Diagonal part Λ, as for :func:`dplr_kernel`.
    P : array, shape (rank, H, N/2), or None (rank 0)
        Low-rank factor (Q = P̄).
    B : array, shape (H, N/2) or (1, H, N/2)
        Input matrix, one entry per conjugate pair.
    dt : real array, shape (H,) or (H, 1); (H, N/2) with ``dt_tie=False``
        Positive time step per channel (or per mode).
    check_finite : bool, default True
        Whether to check that the parameters contain only finite numbers and that ``dt > 0``.
        Disabling may give a performance gain (no device synchronisation), but may give
        NaN/inf results if they do contain infinities, NaNs or non-positive steps.
    dt_tie : bool, default True
        One step per channel; ``False``: one per mode, dt (H, N/2) (as :func:`dplr_kernel`).

    Returns
    -------
    dA : complex array, shape (H, N, N)
        Ā on the conj-expanded basis, N = 2·(N/2) (states ordered [Λ, Λ̄]).
    dB : complex array, shape (H, N)
        B̄ on the same basis.

    Notes
    -----
    With :math:`A_f = \mathrm{diag}(\Lambda,\bar\Lambda) - P_f P_f^H`, :math:`P_f = [P, \bar P]`,
    :math:`B_f = [B, \bar B]`:
    :math:`\bar A = (2/\Delta - A_f)^{-1}(2/\Delta + A_f)`,
    :math:`\bar B = (2/\Delta - A_f)^{-1}\, 2 B_f`, by linear solves (lrnnx steps the identity
    basis through its Woodbury step instead; same matrix). With one step per mode
    (``dt_tie=False``) 2/Δ is the diagonal matrix diag(2/Δ_f), Δ_f = [Δ, Δ]: the unit-step
    bilinear transform of diag(Δ_f) A_f with input Δ_f B_f.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import discretize, dplr_dense
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> dA, dB = dplr_dense(A, P, B, dt)
    >>> dA.shape, dB.shape
    ((1, 4, 4), (1, 4))

    Without the low-rank term it is the elementwise bilinear transform of [Λ, Λ̄] (here B = 1,
    so B̄ = γ̄):

    >>> dA0, dB0 = dplr_dense(A, None, B, dt)
    >>> Af = np.concatenate([A, A.conj()], axis=-1)
    >>> A_bar, gamma_bar = discretize(Af, dt[:, None], "bilinear")
    >>> np.allclose(dA0[0], np.diag(A_bar[0])), np.allclose(dB0, gamma_bar)
    (True, True)
    """
    xp, p, name = _setup({"A": A, "P": P, "B": B, "dt": dt}, check_finite, dt_tie=dt_tie)
    return SPEC.get(name, "dense")(xp, p.A, p.P, p.B, p.dt)


def c_tilde(A, C, P, dt, L, *, check_finite=True, dt_tie=True):
    r""":math:`\tilde C = C (I - \bar A^L)`, computed on the full basis and truncated to N/2.

    What lrnnx's ``_setup_C(L)`` writes into its C parameter on the first forward; returned
    here instead (C is not modified).

    Parameters
    ----------
    A : complex array, shape (H, N/2)
        Diagonal part Λ, as for :func:`dplr_kernel`.
    C : array, shape (channels, H, N/2)
        The plain output matrix.
    P : array, shape (rank, H, N/2), or None (rank 0)
        Low-rank factor.
    dt : real array, shape (H,) or (H, 1); (H, N/2) with ``dt_tie=False``
        Positive time step per channel (or per mode).
    L : int
        Length C̃ is made for (>= 0; L = 0 gives zeros).
    check_finite : bool, default True
        Whether to check that the parameters contain only finite numbers and that ``dt > 0``.
        Disabling may give a performance gain (no device synchronisation), but may give
        NaN/inf results if they do contain infinities, NaNs or non-positive steps.
    dt_tie : bool, default True
        One step per channel; ``False``: one per mode, dt (H, N/2) (as :func:`dplr_kernel`).

    Returns
    -------
    C_tilde : complex array, shape (channels, H, N/2)
        C̃ on the half basis (its conjugate half is implied).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import c_from_tilde, c_tilde
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); C = np.ones((1, 1, 2), complex)
    >>> P = 0.3 * np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> Ct = c_tilde(A, C, P, dt, 4)
    >>> Ct.shape
    (1, 1, 2)
    >>> np.allclose(c_from_tilde(Ct, A, P, dt, 4), C)
    True
    """
    L = check_number("L", L, integer=True, minimum=0)
    xp, p, name = _setup({"A": A, "C": C, "P": P, "dt": dt}, check_finite, dt_tie=dt_tie)
    return SPEC.get(name, "c_tilde")(xp, p.A, p.C, p.P, p.dt, L,
                                     matrix_power=children(name).matrix_power)


def c_from_tilde(C_tilde, A, P, dt, L, *, check_finite=True, dt_tie=True):
    r"""Recover C from C̃ = C (I - Ā^L) (e.g. from an lrnnx checkpoint with ``l_kernel`` = L).

    Parameters
    ----------
    C_tilde : array, shape (channels, H, N/2)
        C̃ made for length ``L`` (what lrnnx stores in its C parameter).
    A, P, dt, dt_tie
        As for :func:`c_tilde`.
    L : int
        The length C̃ was made for (>= 1).
    check_finite : bool, default True
        Whether to check that the parameters contain only finite numbers and that ``dt > 0``.
        Disabling may give a performance gain (no device synchronisation), but may give
        NaN/inf results if they do contain infinities, NaNs or non-positive steps.
    dt_tie : bool, default True
        One step per channel; ``False``: one per mode, dt (H, N/2) (as :func:`dplr_kernel`).

    Returns
    -------
    C : complex array, shape (channels, H, N/2)
        The plain output matrix, C = C̃ (I - Ā^L)^{-1} (truncated to the half basis).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import c_from_tilde, c_tilde
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); C = np.ones((1, 1, 2), complex)
    >>> P = 0.3 * np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> C2 = c_from_tilde(c_tilde(A, C, P, dt, 8), A, P, dt, 8)
    >>> C2.shape, np.allclose(C2, C)
    ((1, 1, 2), True)
    """
    L = check_number("L", L, integer=True, minimum=1)
    xp, p, name = _setup({"C_tilde": C_tilde, "A": A, "P": P, "dt": dt}, check_finite,
                         C_name="C_tilde", dt_tie=dt_tie)
    return SPEC.get(name, "c_from_tilde")(xp, p.C, p.A, p.P, p.dt, L,
                                          matrix_power=children(name).matrix_power)


def double_length(C_tilde, A, P, dt, l_kernel, *, check_finite=True, dt_tie=True):
    r"""lrnnx's length doubling: C̃ (I + Ā^{l}) (= C (I - Ā^{2l})). Returns (C̃', 2 l).

    Parameters
    ----------
    C_tilde : array, shape (channels, H, N/2)
        C̃ made for length ``l_kernel``.
    A, P, dt, dt_tie
        As for :func:`c_tilde`.
    l_kernel : int
        The length ``C_tilde`` was made for (>= 1).
    check_finite : bool, default True
        Whether to check that the parameters contain only finite numbers and that ``dt > 0``.
        Disabling may give a performance gain (no device synchronisation), but may give
        NaN/inf results if they do contain infinities, NaNs or non-positive steps.
    dt_tie : bool, default True
        One step per channel; ``False``: one per mode, dt (H, N/2) (as :func:`dplr_kernel`).

    Returns
    -------
    C_tilde2 : complex array, shape (channels, H, N/2)
        C̃ for length ``2 * l_kernel``.
    l_kernel2 : int
        ``2 * l_kernel``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import c_tilde, double_length
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); C = np.ones((1, 1, 2), complex)
    >>> P = 0.3 * np.ones((1, 1, 2), complex); dt = np.array([0.1])
    >>> Ct8, l = double_length(c_tilde(A, C, P, dt, 4), A, P, dt, 4)
    >>> l, np.allclose(Ct8, c_tilde(A, C, P, dt, 8))
    (8, True)
    """
    l_kernel = check_number("l_kernel", l_kernel, integer=True, minimum=1)
    xp, p, name = _setup({"C_tilde": C_tilde, "A": A, "P": P, "dt": dt}, check_finite,
                         C_name="C_tilde", dt_tie=dt_tie)
    Ct = SPEC.get(name, "double_length")(xp, p.C, p.A, p.P, p.dt, l_kernel,
                                         matrix_power=children(name).matrix_power)
    return Ct, 2 * l_kernel
