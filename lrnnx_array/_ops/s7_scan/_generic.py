"""Array-API S7 scan: contractions with ``vecdot`` around the tuned diagonal scan.

The input projection Bu = Σ_h B u and the output y = Σ_n C s are ``vecdot`` contractions over
the H / N axis (no copies of B or C, no einsum); the recurrence over the (batch·N, L) rows is the
diagonal scan's generic implementation (threaded time loop, or √L chunks for few long rows).
Memory is dominated by B and C themselves (batch·N·H·L each); the states are batch·N·L.
Ā = 1 − 1/(a² + ½) and its derivative come from the numerics layer (its "s7" row).
"""

from __future__ import annotations

from .._shared.numerics import FORMULAS
from ..diag_scan._api import SPEC as _DIAG


def _scan(xp, a, b, h0, reverse=False):
    return _DIAG.get("generic", "forward")(xp, a, b, h0, reverse=reverse)


def _abar(xp, A, grad):
    """(Ā, dĀ/da): the s7 discretization takes the time-varying a_t in its step slot."""
    (abar, _), partials = FORMULAS["s7"](xp, None, A, None, grad)
    return abar, (None if partials is None else partials[0][1])


def _states(xp, u, A, B, bias, h0):
    Bsz, N, L = A.shape
    bu = xp.vecdot(B, u[:, None, :, :], axis=-2)
    if bias is not None:
        bu = bu + bias
    abar, _ = _abar(xp, A, False)
    s = _scan(xp, xp.reshape(abar, (Bsz * N, L)), xp.reshape(bu, (Bsz * N, L)),
              None if h0 is None else xp.reshape(h0, (Bsz * N,)))
    return xp.reshape(s, (Bsz, N, L))


def forward(xp, u, A, B, C, bias, h0):
    """(y (batch, H, L), last (batch, N)) for arrays already in the computation dtype."""
    s = _states(xp, u, A, B, bias, h0)
    y = xp.vecdot(C, s[:, None, :, :], axis=-2)
    return y, s[..., s.shape[-1] - 1]


def backward(xp, dout, u, A, B, C, bias, h0, dlast):
    """(du, dA, dB, dC, dbias, dh0) for arrays already in the computation dtype."""
    Bsz, N, L = A.shape
    s = _states(xp, u, A, B, bias, h0)
    abar, dabar = _abar(xp, A, True)
    zero_col = xp.zeros((Bsz, N, 1), dtype=u.dtype)
    init = zero_col if h0 is None else h0[..., None]
    s_prev = xp.concat([init, s[..., : L - 1]], axis=2)
    ds = xp.vecdot(C, dout[:, :, None, :], axis=-3)
    if dlast is not None:
        ds = xp.concat([ds[..., : L - 1], ds[..., L - 1:] + dlast[..., None]], axis=2)
    gates = xp.concat([abar[..., 1:], zero_col], axis=2)
    lam = xp.reshape(_scan(xp, xp.reshape(gates, (Bsz * N, L)), xp.reshape(ds, (Bsz * N, L)),
                           None, reverse=True), (Bsz, N, L))
    du = xp.vecdot(B, lam[:, :, None, :], axis=-3)
    dA = lam * s_prev * dabar
    dB = lam[:, :, None, :] * u[:, None, :, :]
    dC = dout[:, :, None, :] * s[:, None, :, :]
    dh0 = None if h0 is None else abar[..., 0] * lam[..., 0]
    return du, dA, dB, dC, (None if bias is None else lam), dh0
