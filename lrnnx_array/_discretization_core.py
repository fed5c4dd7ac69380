"""The shared core of ``lrnnx_array.discretization`` and its VJPs: validate once, resolve once,
call one implementation of ``_ops.discretization`` (the public functions are one line each)."""

from __future__ import annotations

from typing import NamedTuple

from . import _checks
from ._ops.discretization._api import COTANGENTS, SPEC, check_domain, problem, split_dout


class DiscretizeGrads(NamedTuple):
    """Cotangents of ``A``, ``delta`` and ``integration_timesteps`` (None when omitted)."""

    dA: object
    ddelta: object
    dintegration_timesteps: object


def _cast(xp, x, dtype):
    return None if x is None else (x if x.dtype == dtype else xp.astype(x, dtype))


def _forward(method, A, delta, tau, impl, check_finite):
    xp = SPEC.validate({"A": A, "delta": delta, "integration_timesteps": tau},
                       check_finite=check_finite)
    shape, dtype = problem(xp, method, A, delta, tau)
    if check_finite:
        check_domain(xp, method, A, delta)
    name = SPEC.resolve(impl, xp, dtype)
    rdt = _checks.real_dtype_of(xp, dtype)
    return SPEC.get(name, "forward")(
        xp, method, _cast(xp, A, dtype), _cast(xp, delta, rdt),
        _cast(xp, tau, rdt) if method == "async" else None, shape=shape, dtype=dtype)


def _backward(method, dout, A, delta, tau, impl, check_finite):
    d0, d1 = split_dout(dout)
    xp = SPEC.validate({"A": A, "delta": delta, "integration_timesteps": tau, "dout[0]": d0,
                        "dout[1]": d1}, check_finite=check_finite, extra=COTANGENTS)
    shape, dtype = problem(xp, method, A, delta, tau, (d0, d1))
    if check_finite:
        check_domain(xp, method, A, delta)
    name = SPEC.resolve(impl, xp, dtype)
    rdt = _checks.real_dtype_of(xp, dtype)
    cdt = _checks.complex_dtype_of(xp, dtype)
    cots = [None if g is None else _cast(xp, g, cdt if xp.isdtype(g.dtype, "complex floating")
                                         else dtype) for g in (d0, d1)]
    tau_c = None if tau is None else _cast(xp, tau, rdt)
    return DiscretizeGrads(*SPEC.get(name, "backward")(
        xp, method, _cast(xp, A, dtype), _cast(xp, delta, rdt), tau_c, *cots, shape=shape,
        dtype=dtype))
