"""Small kernel cases shaped to expose races: warps that pad a block past the last channel, and
more than one chunk (state carried between chunks through memory).

The emulated tier runs this file under ThreadSanitizer (tests/emulated/test_emulated_tier.py),
where every unordered conflicting access is reported, and with the other tier rows under every
schedule; on a GPU it runs as ordinary CuPy tests. Each case also checks the values against the
float64 reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrnnx_array import testing

pytestmark = pytest.mark.cuda


@pytest.fixture
def cp():
    import cupy

    return cupy


def _close(cp, got, want, dtype, what):
    for name, g, w in zip(what, got, want):
        if w is None:
            assert g is None, name
            continue
        testing.assert_close(g, testing.from_numpy(cp, np.asarray(w), dtype), err_msg=name,
                             scale=10)


@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
def test_selective_scan_vjp_padding_warps_and_two_chunks(cp, cplx):
    # Dm = 5 with 4 channels (warps) per block: the second block has 3 padding warps shadowing
    # channel 4, whose warp carries the adjoint between the 2 chunks (L = 300 > 256) in memory.
    from lrnnx_array.ops import selective_scan, selective_scan_vjp

    rng = np.random.default_rng(5)
    Bsz, Dm, N, L = 1, 5, 2, 300
    u = rng.standard_normal((Bsz, Dm, L))
    delta = rng.uniform(0.05, 0.3, (Bsz, Dm, L))
    A = -rng.uniform(0.5, 1.5, (Dm, N))
    B = rng.standard_normal((Dm, N))
    C = rng.standard_normal((Dm, N))
    if cplx:
        A = A + 1j * rng.uniform(0, 2, (Dm, N))
        B = B + 1j * rng.standard_normal((Dm, N))
        C = C + 1j * rng.standard_normal((Dm, N))
    h0 = rng.standard_normal((Bsz, Dm, N)) + (1j * rng.standard_normal((Bsz, Dm, N)) if cplx else 0)
    dout = rng.standard_normal((Bsz, Dm, L))
    args = (u, delta, A, B, C)
    ct = "complex64" if cplx else "float32"
    dev = [testing.from_numpy(cp, x, "float32" if x.dtype.kind == "f" else ct) for x in args]
    kw = dict(discretization="zoh")
    out = selective_scan(*dev, h0=testing.from_numpy(cp, h0, ct), impl="cuda", **kw)
    want = selective_scan(*args, h0=h0, impl="reference", **kw)
    testing.assert_close(out, testing.from_numpy(cp, want, "float32"), scale=10)
    g = selective_scan_vjp(testing.from_numpy(cp, dout, "float32"), *dev,
                           h0=testing.from_numpy(cp, h0, ct), impl="cuda", **kw)
    gw = selective_scan_vjp(dout, *args, h0=h0, impl="reference", **kw)
    for name, x in zip(("du", "ddelta", "dA", "dB", "dC", "dh0"), (*args, h0)):
        dt = "float32" if x.dtype.kind == "f" else ct
        testing.assert_close(getattr(g, name), testing.from_numpy(cp, getattr(gw, name), dt),
                             err_msg=name, scale=10)


def test_diag_scan_vjp_two_chunks(cp):
    from lrnnx_array.ops import diag_scan_vjp

    rng = np.random.default_rng(6)
    R, L = 2, 1100  # the float32 chunk is 1024 steps
    a = rng.uniform(-0.95, 0.95, (R, L))
    b = rng.standard_normal((R, L))
    h0 = rng.standard_normal(R)
    dh = rng.standard_normal((R, L))
    dl = rng.standard_normal(R)
    dev = [testing.from_numpy(cp, x, "float32") for x in (dh, a, b, h0, dl)]
    got = diag_scan_vjp(dev[0], dev[1], dev[2], dev[3], dlast_state=dev[4], impl="cuda")
    want = diag_scan_vjp(dh, a, b, h0, dlast_state=dl, impl="reference")
    _close(cp, got, want, "float32", ("da", "db", "dh0"))


def test_rglru_scan_vjp_two_chunks(cp):
    from lrnnx_array.ops import rglru_scan_vjp

    rng = np.random.default_rng(7)
    Bsz, D, N, L = 1, 2, 3, 1100  # the float32 chunk is 1024 steps
    u = rng.standard_normal((Bsz, D, L))
    delta = rng.uniform(0.5, 2.0, (Bsz, D, L))
    A = rng.uniform(0.6, 0.99, (D, N))
    h0 = rng.standard_normal((Bsz, D, N))
    dout = rng.standard_normal((Bsz, D, L))
    dev = [testing.from_numpy(cp, x, "float32") for x in (dout, u, delta, A, h0)]
    got = rglru_scan_vjp(*dev[:4], h0=dev[4], impl="cuda")
    want = rglru_scan_vjp(dout, u, delta, A, h0=h0, impl="reference")
    _close(cp, got, want, "float32", ("du", "ddelta", "dA", "dh0"))
