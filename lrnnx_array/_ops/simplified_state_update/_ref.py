"""NumPy complex128 oracle for one S5 decode step (lrnnx's ``simplified_state_update``)."""

from __future__ import annotations

import numpy as np

from ..simplified_scan._ref import discretize_ref


def simplified_state_update_ref(state, x, dt, A, B, C, D=None, deltaA=None,
                                discretization="bilinear", conj_sym=True):
    """s <- Abar s + gbar (B x) (``state`` written in place), y = scale Re(C s) + D x.

    Returns y (B, H) float64.
    """
    s = np.asarray(state, np.complex128)
    x = np.asarray(x, np.float64)
    A = np.asarray(A, np.complex128)
    dt = np.broadcast_to(np.asarray(dt, np.float64), s.shape)
    dtA = dt if deltaA is None else np.broadcast_to(np.asarray(deltaA, np.float64), s.shape)
    Ab, gb = discretize_ref(discretization, A[None, :], dt, dtA)
    new = Ab * s + gb * (x @ np.asarray(B, np.complex128).T)
    state[...] = new
    y = (2.0 if conj_sym else 1.0) * (new @ np.asarray(C, np.complex128).T).real
    if D is not None:
        y = y + x @ np.asarray(D, np.float64).T  # D x per row: y_h += sum_k D[h, k] x_k
    return y


def step(xp, state, x, dt, A, B, C, D, dtA, *, disc, conj_sym):
    """The dispatch entry (see ``_generic.step``): the oracle on a complex128 copy of the state,
    written back at the state's dtype; y at the compute precision."""
    work = np.array(state, dtype=np.complex128)
    y = simplified_state_update_ref(work, x, dt, A, B, C, D, dtA, disc, conj_sym)
    state[...] = work.astype(state.dtype)
    return xp.asarray(y, dtype=x.dtype)
