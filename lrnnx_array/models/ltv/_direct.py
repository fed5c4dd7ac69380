"""The decode-step ops of the LTV models, in the models' argument order.

A model's ``step`` calls these once per token per layer with arguments it built itself. They
reach the implementations through the dispatch's one per-call memo (``_dispatch_memo``): the
first call of a signature (namespace, dtypes, shapes, flags) takes every check of the public op,
a repeat skips what the signature already decided, and the checks that read values still run.
The state updates memoise inside their public ops; ``causal_conv1d_update`` does not, so the
conv step applies the same memo here: the public op on a signature's first call, then the
implementation it resolved (``OpSpec.direct``). Torch tensors and mixed dtypes (a float64 cache
on a float32 model) take the public ops every time (``check_finite=False``: the parameters were
checked at construction and load).
"""

from __future__ import annotations

import numpy as np

from ... import _checks
from ..._ops.causal_conv1d._api import UPDATE_SPEC as _CONV_SPEC
from ..._ops.causal_conv1d._api import _activation
from ..._ops.selective_state_update._api import run as _ssu_run
from ..._ops.simplified_state_update._api import run as _s5u_run
from ...ops import causal_conv1d_update, selective_state_update, simplified_state_update

__all__ = ["conv_update", "selective_update", "s5_update"]


def conv_update(xp, x, conv_state, weight, bias, activation):
    """``causal_conv1d_update`` of one token x (B, D) on conv_state (B, D, K), in place."""
    key = _CONV_SPEC.calls.key((x, conv_state, weight, bias), ("LTV step", activation))
    plan = _CONV_SPEC.calls.get(key)
    if not plan:  # None: this signature's first call; False: the public op every time
        out = causal_conv1d_update(x, conv_state, weight, bias, activation, check_finite=False)
        if plan is None:
            dtype = _checks.result_dtype(xp, x, conv_state, weight, bias)
            found = _CONV_SPEC.direct("update", dtype, (x, conv_state, weight, bias))
            _CONV_SPEC.calls.put(key, found and (*found, _activation(activation)))
        return out
    fn, xp, act = plan
    out, new_state = fn(xp, x[:, :, None], conv_state, weight, bias, activation=act)
    conv_state[...] = new_state  # as the public op: computed first, then this one write
    return out[:, :, 0]


def selective_update(xp, state, x, dt, A, B, C, D=None, z=None, *, dt_bias=None, deltaA=None,
                     softplus=False, method):
    """``selective_state_update`` of one token (its public op memoises its checks)."""
    if type(state) is np.ndarray:
        # NumPy: the op's positional form, past the public name's torch/Dask routing wrapper (a
        # model's arrays share one namespace; a stray other array is a new signature, which
        # the full checks reject)
        return _ssu_run(state, x, dt, A, B, C, D, z, dt_bias, softplus, deltaA, None, method,
                        "auto", False)
    return selective_state_update(state, x, dt, A, B, C, D, z, dt_bias=dt_bias,
                                  dt_softplus=softplus, deltaA=deltaA, discretization=method,
                                  check_finite=False)


def s5_update(xp, state, x, dt, A, B, C, deltaA, *, discretization, conj_sym):
    """``simplified_state_update`` of one token: complex state (B, P), A (P,), B (P, H), C (H, P);
    x (B, H), dt (P,), deltaA (B, P) or None (its public op memoises its checks)."""
    if type(state) is np.ndarray:
        return _s5u_run(state, x, dt, A, B, C, None, deltaA, discretization, conj_sym, "auto",
                        False)
    return simplified_state_update(state, x, dt, A, B, C, None, deltaA,
                                   discretization=discretization, conj_sym=conj_sym,
                                   check_finite=False)
