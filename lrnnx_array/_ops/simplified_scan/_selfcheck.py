"""simplified_scan / s5_inner against the float64 oracle at small sizes."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ...models.init import make_s5_params
from ._api import s5_inner, s5_inner_vjp, simplified_scan, simplified_scan_vjp
from ._ref import s5_inner_ref, s5_inner_vjp_ref, simplified_scan_ref, simplified_scan_vjp_ref


def _data(dtype, L=300, delta_kind="P"):
    rng = np.random.default_rng(0)
    A, B, C, dt, D = make_s5_params(8, 16)
    u = rng.standard_normal((2, 8, L)) + 1j * rng.standard_normal((2, 8, L))
    d = dt if delta_kind == "P" else rng.uniform(1e-3, 1e-1, (2, 16, L))
    return u, d, A, B, C, D


def _run_scan(xp, impl, dtype, delta_kind):
    u, d, A, B, C, _ = _data(dtype, delta_kind=delta_kind)
    rdt = "float32" if dtype == "complex64" else "float64"
    g = np.ones(u.shape) * (1 - 0.5j)
    want = [simplified_scan_ref(u, d, A, B, C, None, False, "zoh"),
            *simplified_scan_vjp_ref(g, u, d, A, B, C, None, False, "zoh")]
    args = [testing.from_numpy(xp, u, dtype), testing.from_numpy(xp, d, rdt),
            *(testing.from_numpy(xp, v, dtype) for v in (A, B, C))]
    grads = simplified_scan_vjp(testing.from_numpy(xp, g, dtype), *args, None, False, "zoh",
                                impl=impl)
    got = [simplified_scan(*args, None, False, "zoh", impl=impl), *grads]
    # ddelta sums its terms over batch, H and (for per-state steps) time: entries that cancel
    # are only meaningful relative to the largest one, so it is compared normwise.
    return [(*p, {"normwise": True}) if p[0] == "ddelta" else p
            for p in pairs(("y", *grads._fields), got, want)]


def _run_inner(xp, impl, dtype):
    u, d, A, B, C, D = _data(dtype)
    rdt = "float32" if dtype == "complex64" else "float64"
    g = np.ones(u.shape)
    want = [s5_inner_ref(u, d, A, B, C, D, None, "bilinear"),
            *s5_inner_vjp_ref(g, u, d, A, B, C, D, None, "bilinear")]
    args = [testing.from_numpy(xp, u, dtype), testing.from_numpy(xp, d, rdt),
            *(testing.from_numpy(xp, v, dtype) for v in (A, B, C)),
            testing.from_numpy(xp, D, rdt)]
    grads = s5_inner_vjp(testing.from_numpy(xp, g, rdt), *args, impl=impl)
    return pairs(("y", *grads._fields), [s5_inner(*args, impl=impl), *grads], want)


CHECKS = [
    Check("simplified_scan fwd+vjp (LTI)", lambda xp, i, dt: _run_scan(xp, i, dt, "P"),
          ("complex64", "complex128")),
    Check("simplified_scan fwd+vjp (B,P,L) steps", lambda xp, i, dt: _run_scan(xp, i, dt, "BPL"),
          ("complex64", "complex128")),
    Check("s5_inner fwd+vjp", _run_inner, ("complex64", "complex128")),
]
