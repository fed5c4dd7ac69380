"""ssm_conv (the three strategies) and fft_conv_channels (S4/S4D's convolution)."""

import numpy as np

from ... import testing
from ..._harness import Bench, Case, Work
from ._api import fft_conv_channels, fft_conv_channels_vjp
from ._ssm_api import ssm_conv, ssm_conv_vjp


def _make_ssm(xp, dtype, B, L, H, N):
    rng = np.random.default_rng(0)
    cdt = "complex64" if dtype == "float32" else "complex128"
    lam = rng.uniform(0.9, 0.999, N) * np.exp(1j * rng.uniform(0, np.pi, N))
    K = testing.from_numpy(xp, lam[:, None] ** np.arange(L), cdt)
    Bb = testing.from_numpy(xp, rng.standard_normal((N, H)) + 1j * rng.standard_normal((N, H)), cdt)
    C = testing.from_numpy(xp, rng.standard_normal((H, N)) + 1j * rng.standard_normal((H, N)), cdt)
    x = testing.from_numpy(xp, rng.standard_normal((B, L, H)), dtype)
    dy = testing.from_numpy(xp, rng.standard_normal((B, L, H)), dtype)
    F = 2 * L
    return Case(
        fwd=lambda: ssm_conv(x, K, Bb, C),
        bwd=lambda: ssm_conv_vjp(dy, x, K, Bb, C),
        fwd_work=Work(bytes=8 * B * L * H, fma=4 * B * F * N * 2 * H + 10 * B * F * np.log2(F) * N),
        baselines={s: (lambda s=s: ssm_conv(x, K, Bb, C, strategy=s))
                   for s in ("kernel", "state", "frequency")},
    )


def _make_channels(xp, dtype, B, H, L, channels=1):
    rng = np.random.default_rng(0)
    u = testing.from_numpy(xp, rng.standard_normal((B, 1, H, L)), dtype)
    k = testing.from_numpy(xp, rng.standard_normal((channels, H, L)), dtype)
    dy = testing.from_numpy(xp, rng.standard_normal((B, channels, H, L)), dtype)
    return Case(fwd=lambda: fft_conv_channels(u, k), bwd=lambda: fft_conv_channels_vjp(dy, u, k),
                fwd_work=Work(bytes=4 * 3 * B * H * L))


BENCHES = [
    Bench("ssm_conv", _make_ssm, sizes={
        "small": [dict(B=2, L=128, H=8, N=8)],
        "cpu": [dict(B=8, L=1024, H=64, N=64)],
        "gpu": [dict(B=32, L=4096, H=256, N=256)],
    }),
    Bench("fft_conv_channels", _make_channels, sizes={
        "small": [dict(B=2, H=8, L=128)],
        "cpu": [dict(B=8, H=256, L=4096)],
        "gpu": [dict(B=32, H=1024, L=16384)],
    }),
]
