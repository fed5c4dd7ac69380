"""fft_conv / ssm_conv against their float64 direct-sum oracles (``check``)."""

import numpy as np

from ... import testing
from ..._harness import Check, pairs
from ._api import fft_conv, fft_conv_vjp
from ._ref import fft_conv_ref, fft_conv_vjp_ref, ssm_conv_ref, ssm_conv_vjp_ref
from ._ssm_api import ssm_conv, ssm_conv_vjp


def _fft(xp, impl, dtype):
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((2, 40, 3)), rng.standard_normal((40, 2, 3))
    dy = rng.standard_normal((2, 40, 2))
    if dtype.startswith("complex"):  # complex inputs (zero imaginary parts): complex results
        x, k, dy = (v.astype(complex) for v in (x, k, dy))
    want = [fft_conv_ref(x, k), *fft_conv_vjp_ref(dy, x, k)]
    a = [testing.from_numpy(xp, v, dtype) for v in (x, k)]
    got = [fft_conv(*a, impl=impl), *fft_conv_vjp(testing.from_numpy(xp, dy, dtype), *a, impl=impl)]
    return pairs(("y", "dx", "dk"), got, want)


def _ssm(xp, impl, dtype):
    rng = np.random.default_rng(1)
    N, L = 6, 40
    lam = rng.uniform(0.5, 0.95, N) * np.exp(1j * rng.uniform(0, 3, N))
    K = lam[:, None] ** np.arange(L)
    Bb = rng.standard_normal((N, 3)) + 1j * rng.standard_normal((N, 3))
    C = rng.standard_normal((2, N)) + 1j * rng.standard_normal((2, N))
    x, dy = rng.standard_normal((2, L, 3)), rng.standard_normal((2, L, 2))
    cdt = "complex64" if dtype == "float32" else "complex128"
    want = [ssm_conv_ref(x, K, Bb, C), *ssm_conv_vjp_ref(dy, x, K, Bb, C)]
    a = [testing.from_numpy(xp, x, dtype)] + [testing.from_numpy(xp, v, cdt) for v in (K, Bb, C)]
    got = []
    for s in ("kernel", "state", "frequency"):
        got.append(ssm_conv(*a, strategy=s, impl=impl))
    got += list(ssm_conv_vjp(testing.from_numpy(xp, dy, dtype), *a, impl=impl))
    labels = ("y kernel", "y state", "y frequency", "dx", "dK", "dB_bar", "dC")
    return pairs(labels, got, [want[0]] * 3 + want[1:])


CHECKS = [Check("fft_conv fwd+vjp", _fft, ("float32", "float64", "complex64")),
          Check("ssm_conv 3 strategies + vjp", _ssm, ("float32", "float64"))]
