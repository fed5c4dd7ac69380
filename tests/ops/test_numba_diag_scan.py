"""The numba diag_scan against the float64 oracle: forward and VJP, every dtype, odd sizes."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import COMPLEX, REAL, cast, close_all, needs_numba

from lrnnx_array._ops.diag_scan._ref import diag_scan_ref, diag_scan_vjp_ref
from lrnnx_array.ops import diag_scan, diag_scan_vjp

pytestmark = needs_numba


def _inputs(dtype, R, L, const=False, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 1.0, (R, 1 if const else L))
    b = rng.standard_normal((R, L))
    h0, g, dl = rng.standard_normal(R), rng.standard_normal((R, L)), rng.standard_normal(R)
    if dtype in COMPLEX:
        a = a * np.exp(1j * rng.uniform(-0.5, 0.5, a.shape))
        b = b + 1j * rng.standard_normal((R, L))
        h0, g = h0 + 1j * rng.standard_normal(R), g + 1j * rng.standard_normal((R, L))
        dl = dl + 1j * rng.standard_normal(R)
    return [cast(x, dtype) for x in (a, b, h0, g, dl)]


@pytest.mark.parametrize("dtype", REAL + COMPLEX)
@pytest.mark.parametrize("R,L", [(1, 1), (3, 7), (11, 13), (9, 97)])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("const", [False, True])
def test_forward_and_vjp_match_oracle(dtype, R, L, reverse, const):
    a, b, h0, g, dl = _inputs(dtype, R, L, const)
    h = diag_scan(a, b, h0, reverse=reverse, impl="numba")
    close_all(["h"], [h], [diag_scan_ref(a, b, h0, reverse=reverse)], dtype)
    got = diag_scan_vjp(g, a, b, h0, reverse=reverse, dlast_state=dl, impl="numba")
    ref = diag_scan_vjp_ref(g, a, b, h0, reverse=reverse, dlast_state=dl)
    close_all(["da", "db", "dh0"], got, ref, dtype, normwise=True)


@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_without_h0_and_dlast(dtype):
    a, b, _, g, _ = _inputs(dtype, 5, 31)
    close_all(["h"], [diag_scan(a, b, impl="numba")], [diag_scan_ref(a, b)], dtype)
    got = diag_scan_vjp(g, a, b, impl="numba")
    assert got.dh0 is None
    close_all(["da", "db"], got[:2], diag_scan_vjp_ref(g, a, b)[:2], dtype, normwise=True)


def test_auto_picks_numba_for_numpy():
    import array_api_compat.numpy as xp

    from lrnnx_array._ops.diag_scan._api import SPEC

    assert SPEC.resolve("auto", xp, np.float32) == "numba"
    assert SPEC.resolve("generic", xp, np.float32) == "generic"


def test_numba_rejects_other_namespaces():
    strict = pytest.importorskip("array_api_strict")
    a = strict.asarray(np.ones((2, 3)))
    with pytest.raises(ValueError, match="numba"):
        diag_scan(a, a, impl="numba")
    # auto stays on the array-API path for them
    assert diag_scan(a, a).shape == (2, 3)


def test_broadcast_inputs():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 1, (4, 1, 9)).astype(np.float32)
    b = rng.standard_normal((1, 3, 9)).astype(np.float32)
    close_all(["h"], [diag_scan(a, b, impl="numba")], [diag_scan_ref(a, b)], "float32")


@pytest.mark.parametrize("dtype", ["float32", "complex128"])
@pytest.mark.parametrize("L", [511, 1103, 4099])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("const", [False, True])
def test_lengths_across_tiles(dtype, L, reverse, const):
    # The kernels scan through 512-step tiles (the forward from L = 4096 on): primes that end
    # inside a tile, two and eight tiles in.
    # 64 rows: a constant gate on fewer long rows goes to the generic Toeplitz path
    a, b, h0, g, dl = _inputs(dtype, 64 if const and L >= 4096 else 3, L, const, seed=2)
    h = diag_scan(a, b, h0, reverse=reverse, impl="numba")
    close_all(["h"], [h], [diag_scan_ref(a, b, h0, reverse=reverse)], dtype, normwise=True)
    got = diag_scan_vjp(g, a, b, h0, reverse=reverse, dlast_state=dl, impl="numba")
    ref = diag_scan_vjp_ref(g, a, b, h0, reverse=reverse, dlast_state=dl)
    close_all(["da", "db", "dh0"], got, ref, dtype, normwise=True)


@pytest.mark.parametrize("dtype", REAL + COMPLEX)
@pytest.mark.parametrize("R", [8, 17])
@pytest.mark.parametrize("L", [1, 5, 255, 256, 257, 600])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("const", [False, True])
@pytest.mark.parametrize("local", [False, True])
def test_tiled_blocks_match_oracle(monkeypatch, dtype, R, L, reverse, const, local):
    # Blocks of 8 rows through (8, 256) tiles (_numba_tile8), at every length (the threshold
    # lowered): shorter than a tile, one tile, one step over, three tiles ending inside one;
    # the backward's states in a local buffer or in da; 17 rows: two blocks and a row left to
    # the plain kernels.
    from lrnnx_array._ops.diag_scan import _numba, _numba_tile8

    monkeypatch.setattr(_numba, "_BLOCK_MIN_L", 1)
    monkeypatch.setattr(_numba_tile8, "local_states", lambda L, itemsize: local)
    calls = []
    for name in ("fwd", "bwd"):
        real = getattr(_numba_tile8, name)
        monkeypatch.setattr(_numba_tile8, name,
                            lambda *a, _f=real, _n=name: calls.append(_n) or _f(*a))
    a, b, h0, g, dl = _inputs(dtype, R, L, const, seed=3)
    h = diag_scan(a, b, h0, reverse=reverse, impl="numba")
    close_all(["h"], [h], [diag_scan_ref(a, b, h0, reverse=reverse)], dtype, normwise=True)
    got = diag_scan_vjp(g, a, b, h0, reverse=reverse, dlast_state=dl, impl="numba")
    ref = diag_scan_vjp_ref(g, a, b, h0, reverse=reverse, dlast_state=dl)
    close_all(["da", "db", "dh0"], got, ref, dtype, normwise=True)
    got = diag_scan_vjp(g, a, b, reverse=reverse, impl="numba")  # no h0, no dlast
    ref = diag_scan_vjp_ref(g, a, b, reverse=reverse)
    close_all(["da", "db"], got[:2], ref[:2], dtype, normwise=True)
    assert calls == ["fwd", "bwd", "bwd"]


def test_tiled_blocks_used_at_the_issue_sizes():
    from lrnnx_array._ops.diag_scan import _numba, _numba_tile8

    assert _numba._block_rows(4096, 1024) == 4096
    assert _numba._block_rows(16, 65536) == 16
    assert _numba._block_rows(19, 65536) == 16
    assert _numba._block_rows(4096, 100) == 0
    assert _numba_tile8.local_states(1024, 4) and not _numba_tile8.local_states(65536, 4)
