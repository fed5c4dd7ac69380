"""S4D kernel (zoh, bilinear, state) against direct powers (``python -m lrnnx_array check``)."""

import numpy as np

from ... import testing
from ..._harness import Check
from ._api import s4d_kernel
from ._ref import s4d_kernel_ref


def _run(xp, impl, dtype):
    rng = np.random.default_rng(0)
    H, N2, L = 4, 8, 200
    A = -rng.uniform(0.1, 1, (H, N2)) + 1j * rng.uniform(-5, 5, (H, N2))
    B = rng.standard_normal((H, N2)) + 1j * rng.standard_normal((H, N2))
    C = rng.standard_normal((2, H, N2)) + 1j * rng.standard_normal((2, H, N2))
    s = rng.standard_normal((2, H, N2)) + 1j * rng.standard_normal((2, H, N2))
    dt = rng.uniform(0.01, 0.2, H)
    rdt = "float32" if dtype == "complex64" else "float64"
    err, scale = 0.0, 1.0
    for disc in ("zoh", "bilinear"):
        want = s4d_kernel_ref(A, B, C, dt[:, None], L, disc=disc, state=s)
        args = [testing.from_numpy(xp, v, dtype) for v in (A, B, C)]
        args.append(testing.from_numpy(xp, dt, rdt))
        got = s4d_kernel(*args, L, disc=disc, state=testing.from_numpy(xp, s, dtype), impl=impl)
        err = max(err, *(float(np.max(np.abs(testing.to_numpy(g) - w))) for g, w in zip(got, want)))
        scale = max(scale, float(np.abs(want[1]).max()))
    return err, 10 * testing.tolerance(dtype)[0] * scale


CHECKS = [Check("s4d_kernel zoh+bilinear+state", _run, ("complex64", "complex128"))]
