"""The decode-step ops of the LTV models, called on their implementations directly.

A model's ``step`` has already checked its token, its cache (shapes for this batch size) and its
parameters (at construction and load), and it builds every other argument itself, in one dtype.
Re-validating that per token in each public op (namespace detection, kind and shape rules,
dtype promotion, resolution) was most of the per-token cost at B=1, so for NumPy and CuPy
arrays of one dtype these helpers resolve the implementation once per (namespace, dtype) and
call it as composites do (``SPEC.get(name, fn)``). Anything else (torch tensors, which the public
ops send through the autograd bridge; other namespaces; mixed dtypes such as a float64 cache on a
float32 model) goes through the public op with ``check_finite=False``.
"""

from __future__ import annotations

from ..._backend import is_cupy, is_numpy
from ..._ops.causal_conv1d._api import UPDATE_SPEC as _CONV_SPEC
from ..._ops.selective_state_update._api import SPEC as _SSU_SPEC
from ..._ops.selective_state_update._api import _resolve as _ssu_resolve
from ..._ops.simplified_state_update._api import SPEC as _S5U_SPEC
from ...ops import causal_conv1d_update, selective_state_update, simplified_state_update

__all__ = ["conv_update", "selective_update", "s5_update"]

_DIRECT: dict = {}  # namespace -> whether it runs the implementations directly
_IMPL: dict = {}  # (op, namespace, dtype) -> implementation function


def _direct(xp) -> bool:
    found = _DIRECT.get(xp)
    if found is None:
        found = _DIRECT[xp] = bool(is_numpy(xp) or is_cupy(xp))
    return found


def _impl(key, resolve):
    fn = _IMPL.get(key)
    if fn is None:
        fn = _IMPL[key] = resolve()
    return fn


def conv_update(xp, x, conv_state, weight, bias, activation):
    """``causal_conv1d_update`` of one token x (B, D) on conv_state (B, D, K), in place."""
    dt = x.dtype
    if not (_direct(xp) and conv_state.dtype == dt and weight.dtype == dt
            and (bias is None or bias.dtype == dt)):
        return causal_conv1d_update(x, conv_state, weight, bias, activation, check_finite=False)
    fn = _impl(("conv", xp, dt),
               lambda: _CONV_SPEC.get(_CONV_SPEC.resolve("auto", xp, dt), "update"))
    out, new_state = fn(xp, x[:, :, None], conv_state, weight, bias, activation=activation)
    conv_state[...] = new_state
    return out[:, :, 0]


def selective_update(xp, state, x, dt, A, B, C, D=None, z=None, *, dt_bias=None, deltaA=None,
                     softplus=False, method):
    """``selective_state_update`` of one token; every array in the state's dtype."""
    sdt = state.dtype
    args = (x, dt, z, deltaA, A, B, C, D, dt_bias)
    if not (_direct(xp) and all(v is None or v.dtype == sdt for v in args)):
        return selective_state_update(state, x, dt, A, B, C, D, z, dt_bias=dt_bias,
                                      dt_softplus=softplus, deltaA=deltaA,
                                      discretization=method, check_finite=False)
    fn = _impl(("ssu", xp, sdt),
               lambda: _SSU_SPEC.get(_ssu_resolve("auto", xp, state, sdt), "step"))
    return fn(xp, state, None, *args, softplus=softplus, method=method)


def s5_update(xp, state, x, dt, A, B, C, deltaA, *, discretization, conj_sym):
    """``simplified_state_update`` of one token: complex state (B, P), A (P,), B (P, H), C (H, P)
    in the state's dtype; x (B, H), dt (P,), deltaA (B, P) or None in its real dtype."""
    cdt, rdt = state.dtype, x.dtype
    ok = (_direct(xp) and A.dtype == cdt and B.dtype == cdt and C.dtype == cdt
          and dt.dtype == rdt and (deltaA is None or deltaA.dtype == rdt)
          and cdt.itemsize == 2 * rdt.itemsize)  # NumPy/CuPy dtypes: the matching precisions
    if not ok:
        return simplified_state_update(state, x, dt, A, B, C, None, deltaA,
                                       discretization=discretization, conj_sym=conj_sym,
                                       check_finite=False)
    fn = _impl(("s5u", xp, cdt), lambda: _S5U_SPEC.get(_S5U_SPEC.resolve("auto", xp, cdt), "step"))
    return fn(xp, state, x, dt[None, :], A, B, C, None, deltaA,
              disc=discretization, conj_sym=conj_sym)
