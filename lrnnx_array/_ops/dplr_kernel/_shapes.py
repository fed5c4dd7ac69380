"""Shape rules of the S4 DPLR family (read no values) and the casts to the compute dtype.

Shared by the public modules ``_api`` (kernel), ``_ctilde_api``, ``_step_api`` and
``_state_api``; the namespace and the declarative dtype/finiteness rules come from the one
``SPEC.validate`` call of each public function.
"""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import check_flag, check_number
from .._shared.grads import grad_dtype


class Params(NamedTuple):
    """Arrays checked and cast to the compute dtype ``cdt``: B (H, N/2), dt (H, 1) or (H, N/2)
    real."""

    A: object
    B: object
    C: object
    P: object
    dt: object
    state: object
    cdt: object


def prepare(xp, A, B, C, P, dt, state=None, *, C_name="C", check_finite=True, dt_tie=True):
    """Shapes of the DPLR arguments, then everything cast to one complex dtype (promoted).

    ``dt_tie`` (a checked flag): one step per channel, dt (H,) or (H, 1) -> canonical (H, 1);
    ``dt_tie=False`` also accepts one step per mode, dt (H, N/2), kept as it is (a per-channel
    dt is then the special case constant over the modes). The implementations tell the two
    apart by dt's last axis (with N/2 = 1 they are the same system).
    """
    dt_tie = check_flag("dt_tie", dt_tie)
    _checks.check_ndim("A", A, 2, "(H, N/2)")
    H, N2 = A.shape
    if B is not None:
        if B.ndim == 3:
            _checks.check_shape("B", B, (1, H, N2), "(1, H, N/2) or (H, N/2)")
            B = xp.reshape(B, (H, N2))
        _checks.check_shape("B", B, (H, N2), "(H, N/2)")
    if C is not None:
        _checks.check_ndim(C_name, C, 3, "(channels, H, N/2)")
        _checks.check_shape(C_name, C, (None, H, N2), "(channels, H, N/2)")
    if P is not None:
        _checks.check_ndim("P", P, 3, "(rank, H, N/2)")
        _checks.check_shape("P", P, (None, H, N2), "(rank, H, N/2)")
    per_channel = tuple(dt.shape) in ((H,), (H, 1))
    if dt_tie and not per_channel:
        raise ValueError(
            f"dt must have shape (H,) or (H, 1) with H={H} (one step per channel; pass "
            f"dt_tie=False for one step per mode, shape (H, N/2)), got {tuple(dt.shape)}"
        )
    if not (per_channel or tuple(dt.shape) == (H, N2)):
        raise ValueError(
            f"dt must have shape (H, N/2) = ({H}, {N2}) with dt_tie=False (one step per mode; "
            f"(H,) or (H, 1) broadcast over the modes), got {tuple(dt.shape)}"
        )
    if per_channel:  # also under dt_tie=False: a step constant over the modes
        dt = xp.reshape(dt, (H, 1))
    if state is not None:
        _checks.check_ndim("state", state, 3, "(batch, H, N/2) or (batch, H, N)")
        if state.shape[1] != H or state.shape[2] not in (N2, 2 * N2):
            raise ValueError(
                f"state must have shape (batch, {H}, {N2}) or (batch, {H}, "
                f"{2 * N2}), got {tuple(state.shape)}"
            )
    if check_finite and not bool(xp.all(dt > 0)):
        # A value check like the finiteness ones: only under check_finite (a host read).
        raise ValueError("dt must be positive (pass check_finite=False to skip this check)")
    cdt = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, A, B, C, P, dt, state))
    rdt = _checks.real_dtype_of(xp, cdt)
    dt = dt if dt.dtype == rdt else xp.astype(dt, rdt)
    if P is not None and P.shape[0] == 0:
        P = None  # rank 0
    return Params(cast(xp, A, cdt), cast(xp, B, cdt), cast(xp, C, cdt), cast(xp, P, cdt), dt,
                  cast(xp, state, cdt), cdt)


def cast(xp, a, dtype):
    return None if a is None else (a if a.dtype == dtype else xp.astype(a, dtype))


def check_lengths(L, rate, C_is_tilde, l_kernel):
    """Validated (L, rate, l_kernel) shared by the kernel and its VJP (plain numbers)."""
    L = check_number("L", L, integer=True, minimum=1)
    rate = check_number("rate", rate, positive=True)
    check_flag("C_is_tilde", C_is_tilde)
    if C_is_tilde and l_kernel is None:
        raise ValueError("l_kernel is required when C_is_tilde=True (the length C̃ was made for)")
    if l_kernel is not None:
        l_kernel = check_number("l_kernel", l_kernel, integer=True, minimum=1)
    return L, rate, bool(C_is_tilde), l_kernel


def cotangent_rows(xp, dout, p, L):
    """The (dk, dk_state) pair checked and stacked as the kernel's rows (nb, ch, H, L), real."""
    dk, dks = dout
    ch, H = p.C.shape[0], p.A.shape[0]
    rdt = _checks.real_dtype_of(xp, p.cdt)
    nbs = 0 if p.state is None else p.state.shape[0]
    if dk is not None:
        _checks.check_shape("dk", dk, (ch, H, L), "(channels, H, L) like k")
    if dks is not None:
        if p.state is None:
            raise ValueError("dk_state must be None when state is None (k_state is None)")
        _checks.check_shape(
            "dk_state", dks, (nbs, ch, H, L), "(batch, channels, H, L) like k_state"
        )
    zero = lambda *s: xp.zeros(s, dtype=rdt)  # noqa: E731
    gk = zero(1, ch, H, L) if dk is None else cast(xp, dk, rdt)[None, ...]
    if nbs:
        gk = xp.concat([zero(nbs, ch, H, L) if dks is None else cast(xp, dks, rdt), gk], axis=0)
    return gk


def grad_as(xp, g, x, cdt):
    """A gradient in the argument's shape, its kind (real part for a real argument) at the
    computation's precision ``cdt`` (never demoted to a narrower argument's dtype)."""
    if x is None:
        return None
    want = grad_dtype(xp, x.dtype, cdt)
    if g is None:
        return xp.zeros(tuple(x.shape), dtype=want)
    if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(want, "complex floating"):
        g = xp.real(g)
    g = xp.reshape(g, tuple(x.shape))
    return g if g.dtype == want else xp.astype(g, want)
