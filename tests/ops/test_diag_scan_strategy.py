"""diag_scan's generic strategies across their switch points: the L-blocked chunked form (a
block size shrunk so small inputs cross several blocks, a ragged last block included), the loop,
and the long-sequence rule, each against the float64 oracle, forward and VJP, with h0."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops.diag_scan import _generic
from lrnnx_array._ops.diag_scan._ref import diag_scan_ref, diag_scan_vjp_ref
from lrnnx_array.ops import diag_scan, diag_scan_vjp


@pytest.mark.parametrize("R, L", [(3, 2100), (5, 1537), (40, 1030)])
@pytest.mark.parametrize("reverse", [False, True])
def test_blocked_chunked_matches_ref(xp, monkeypatch, rng, R, L, reverse):
    monkeypatch.setattr(_generic, "_BLOCK_ELEMS", 512 * R // 2)  # blocks of 512 steps
    a = rng.uniform(0.6, 1.0, (R, L))
    b = rng.standard_normal((R, L))
    h0 = rng.standard_normal(R)
    g = rng.standard_normal((R, L))
    args = [testing.from_numpy(xp, v, "float64") for v in (a, b, h0, g)]
    got = diag_scan(*args[:3], reverse=reverse, impl="generic")
    testing.assert_close(got, testing.from_numpy(xp, diag_scan_ref(a, b, h0, reverse=reverse),
                                                 "float64"))
    da, db, dh0 = diag_scan_vjp(args[3], *args[:3], reverse=reverse, impl="generic")
    want = diag_scan_vjp_ref(g, a, b, h0, reverse=reverse)
    for x, w in zip((da, db, dh0), want):
        testing.assert_close(x, testing.from_numpy(xp, w, "float64"))


def test_long_sequences_take_the_chunked_form(monkeypatch, rng):
    calls = []
    real = _generic._chunked
    monkeypatch.setattr(_generic, "_chunked", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(_generic, "_CHUNKED_ALWAYS_L", 600)
    import array_api_compat.numpy as xp

    a, b = rng.uniform(0.5, 1, (300, 600)), rng.standard_normal((300, 600))
    np.testing.assert_allclose(_generic.scan_rows(xp, a, b, None), diag_scan_ref(a, b),
                               rtol=1e-12, atol=1e-12)
    assert calls, "300 rows x L=600 (>= _CHUNKED_ALWAYS_L) should use the chunked form"
    calls.clear()
    a, b = a[:, :599], b[:, :599]
    _generic.scan_rows(xp, a, b, None)
    assert not calls, "300 rows (> _CHUNKED_MAX_ROWS) below _CHUNKED_ALWAYS_L take the loop"
