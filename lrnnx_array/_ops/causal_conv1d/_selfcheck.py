"""causal_conv1d against its float64 oracle at small sizes (for `python -m lrnnx_array check`)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import causal_conv1d, causal_conv1d_update, causal_conv1d_vjp
from ._ref import causal_conv1d_ref, causal_conv1d_update_ref, causal_conv1d_vjp_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 40))
    w, b = rng.standard_normal((5, 4)), rng.standard_normal(5)
    init, dout = rng.standard_normal((3, 5, 3)), rng.standard_normal(x.shape)
    state = rng.standard_normal((3, 5, 4))
    want = [causal_conv1d_ref(x, w, b, "silu", init)[0],
            *causal_conv1d_vjp_ref(dout, x, w, b, "silu", init),
            causal_conv1d_update_ref(x[:, :, :1], state, w, b, "silu")[0][:, :, 0]]
    a = [testing.from_numpy(xp, v, dtype) for v in (x, w, b, init, dout, state)]
    got = [causal_conv1d(*a[:3], "silu", initial_states=a[3], impl=impl),
           *causal_conv1d_vjp(a[4], *a[:3], "silu", initial_states=a[3], impl=impl),
           causal_conv1d_update(a[0][:, :, 0], a[5], *a[1:3], "silu", impl=impl)]
    return pairs(("out", "dx", "dweight", "dbias", "dinitial_states", "update out"), got,
                    want)


CHECKS = [Check("causal_conv1d fwd+vjp+update", _run, ("float32", "float64"))]
