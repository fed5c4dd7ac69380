"""``_numba_trig.vsincos``: the S5 tiles' sin/cos in float32 lanes, against float64 NumPy
(absolute error at float32's rounding over |x| <= LIM32, next to multiples of pi/2, signed
zero), the fallback to ``numba_math``'s vsincos beyond LIM32 and for inf/NaN, and float64
buffers through that helper unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import needs_numba

pytestmark = needs_numba

# float32's rounding of a value <= 1 (half an ulp of 1 is 6e-8) plus the reduction's ~1e-11.
ABS_TOL32 = 1.3e-7


def _run(x):
    from lrnnx_array._ops.simplified_scan import _numba_trig

    s, c = np.full_like(x, 7), np.full_like(x, 7)
    _numba_trig.vsincos(x, s, c, x.size)
    return s, c


def _shared(x):
    from lrnnx_array._ops._shared import numba_math as nbm
    from lrnnx_array._ops._shared import numba_support as nbs

    f = nbm.helpers()["vsincos"]

    @nbs.numba().njit
    def run(x, s, c):
        f(x, s, c, x.size)

    s, c = np.empty_like(x), np.empty_like(x)
    run(x, s, c)
    return s, c


@pytest.mark.parametrize("lim", [1.0, 40.0, 3000.0, 8192.0])
def test_float32_absolute_error(lim):
    rng = np.random.default_rng(int(lim))
    x = rng.uniform(-lim, lim, 20000).astype(np.float32)
    s, c = _run(x)
    xd = x.astype(np.float64)
    assert s.dtype == np.float32
    assert np.abs(s - np.sin(xd)).max() <= ABS_TOL32
    assert np.abs(c - np.cos(xd)).max() <= ABS_TOL32


def test_float32_next_to_quadrant_edges():
    k = np.arange(-5200, 5201, dtype=np.float64)
    centre = (k * np.pi / 2).astype(np.float32)
    x = np.concatenate([np.nextafter(centre, np.float32(-np.inf)), centre,
                        np.nextafter(centre, np.float32(np.inf)),
                        (k * np.pi / 4).astype(np.float32)])
    s, c = _run(x)
    xd = x.astype(np.float64)
    assert np.abs(s - np.sin(xd)).max() <= ABS_TOL32
    assert np.abs(c - np.cos(xd)).max() <= ABS_TOL32


def test_float32_signed_zero_and_tiny():
    x = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-42], np.float32)
    s, c = _run(x)
    np.testing.assert_array_equal(s, x)
    assert np.signbit(s[1]) and not np.signbit(s[0])
    np.testing.assert_array_equal(c, np.ones_like(x))


@pytest.mark.parametrize("bad", [9000.0, -1e7, np.inf, -np.inf, np.nan])
def test_float32_out_of_range_falls_back(bad):
    """One argument beyond LIM32 (or not finite) sends the whole buffer to the shared helper
    (few ulp relative everywhere): the results equal it bit for bit."""
    x = np.linspace(-50, 50, 101).astype(np.float32)
    x[37] = bad
    s, c = _run(x)
    s0, c0 = _shared(x)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(c, c0)
    if not np.isfinite(bad):
        assert np.isnan(s[37]) and np.isnan(c[37])


def test_float64_is_the_shared_helper():
    x = np.random.default_rng(1).uniform(-1e4, 1e4, 999)
    s, c = _run(x)
    s0, c0 = _shared(x)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(c, c0)
    assert np.abs(s - np.sin(x)).max() < 1e-12
