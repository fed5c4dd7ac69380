"""forward_state of the S4 DPLR family: the state after a whole sequence (public)."""

from __future__ import annotations

from ... import _checks
from ._api import SPEC, children
from ._shapes import cast

__all__ = ["dplr_forward_state"]


def dplr_forward_state(u, state, dA, dB, *, check_finite=True):
    r"""State after running the dense recurrence over ``u`` (lrnnx ``S4Kernel.forward_state``).

    Parameters
    ----------
    u : real array, shape (batch, H, L)
    state : complex array, (batch, H, N/2) or (batch, H, N), or None (zero)
    dA, dB : arrays from :func:`dplr_dense` (or a dense :func:`dplr_step_setup`)
        dA (H, N, N), dB (H, N).
    check_finite : bool, default True
        Whether to check that ``dA`` and ``dB`` contain only finite numbers. Disabling may
        give a performance gain (no device synchronisation).

    Returns
    -------
    new_state : complex array, (batch, H, N/2) or (batch, H, N)
        Same size as ``state`` (N if ``state`` is None), in the promoted complex dtype of
        ``u``, ``state``, ``dA`` and ``dB`` (never demoted).

    Notes
    -----
    :math:`x_L = \bar A^L x + \sum_{l<L}\bar A^{L-1-l}\bar B u_l`, with both terms from
    ``power(L, dA, v)`` on the reversed, B̄-weighted input (O(log L) batched matmuls).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import dplr_dense, dplr_forward_state
    >>> A = np.array([[-0.5 + 1j, -0.5 + 3j]]); B = np.ones((1, 2), complex)
    >>> C = np.ones((1, 1, 2), complex); P = 0.3 * np.ones((1, 1, 2), complex)
    >>> dt = np.array([0.1])
    >>> dA, dB = dplr_dense(A, P, B, dt)
    >>> u = np.random.default_rng(0).normal(size=(2, 1, 5))
    >>> x = np.zeros((2, 1, 4), complex)
    >>> for t in range(5):
    ...     x = (dA @ x[..., None])[..., 0] + dB * u[:, :, t, None]
    >>> np.allclose(dplr_forward_state(u, None, dA, dB), x)
    True

    A half state (batch, H, N/2) gives a half state back:

    >>> dplr_forward_state(u, x[..., :2], dA, dB).shape
    (2, 1, 2)
    """
    xp = SPEC.validate({"u": u, "state": state, "dA": dA, "dB": dB}, check_finite=check_finite)
    _checks.check_ndim("u", u, 3, "(batch, H, L)")
    _checks.check_ndim("dB", dB, 2, "(H, N)")
    H, N = dB.shape
    _checks.check_shape("dA", dA, (H, N, N), "(H, N, N) matching dB (H, N)")
    if u.shape[1] != H:
        raise ValueError(f"u must have shape (batch, {H}, L), got {tuple(u.shape)}")
    if state is not None:
        _checks.check_shape("state", state, (u.shape[0], H, None),
                            "(batch, H, N/2) or (batch, H, N)")
        if state.shape[-1] not in (N, N // 2):
            raise ValueError(f"state must have shape (batch, {H}, {N // 2}) or (batch, {H}, "
                             f"{N}), got {tuple(state.shape)}")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, u, state, dA, dB))
    name = SPEC.resolve("auto", xp, cdt)
    ops = children(name)
    return SPEC.get(name, "forward_state")(
        xp, cast(xp, u, _checks.real_dtype_of(xp, cdt)), cast(xp, state, cdt), cast(xp, dA, cdt),
        cast(xp, dB, cdt), matrix_power=ops.matrix_power, power_sum=ops.power_sum)
