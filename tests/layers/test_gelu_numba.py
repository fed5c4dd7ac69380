"""The numba erfc / GELU kernels (layers/_gelu_numba.py) in ulp against SciPy (float32 inputs,
evaluated in float64) and mpmath (float64), their edge values against the array-API path, and
the dispatch of ``layers.erfc`` / ``layers.gelu`` to them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp

from lrnnx_array import testing
from lrnnx_array._ops._shared import numba_support
from lrnnx_array.layers import _gelu_numba, erfc, gelu
from lrnnx_array.layers.activations import _erfc_array_api

pytestmark = pytest.mark.skipif(not numba_support.available(),
                                reason=f"numba unavailable: {numba_support.unavailable_reason()}")
ULP = {"float32": 1, "float64": 4}  # measured: 0.57 / 4 (float64 near 1, and in the tail)


def ulp_error(got, want, dtype):
    """max |got - want| in units of the last place of ``want`` rounded to ``dtype`` (the
    smallest subnormal's spacing at the bottom); equal values (infs, zeros) count 0."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    w = want.astype(dtype)
    space = np.maximum(np.spacing(np.abs(w)).astype(np.float64),
                       np.finfo(dtype).smallest_subnormal)
    err = np.where(got == want, 0.0, np.abs(got - want) / space)
    return float(err.max())


def _mp_erfc(x):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.prec = 200
    return np.array([float(mpmath.erfc(mpmath.mpf(float(v)))) for v in x])


def _mp_gelu(x):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.prec = 200
    return np.array([float(mpmath.mpf(float(v)) * mpmath.erfc(-mpmath.mpf(float(v))
                                                                / mpmath.sqrt(2)) / 2)
                     for v in x])


def _grid32(lo, hi):
    tiny = np.geomspace(1e-38, 1, 400)
    return np.concatenate([np.linspace(lo, hi, 200001), tiny, -tiny]).astype(np.float32)


def test_erfc_float32_within_one_ulp_of_scipy_in_float64():
    x = _grid32(-11, 11)  # past 10.05 erfc underflows to 0 in float32
    got = _gelu_numba.apply("erfc", x)
    assert got.dtype == np.float32
    assert ulp_error(got, sp.erfc(x.astype(np.float64)), "float32") <= ULP["float32"]


def test_gelu_float32_within_one_ulp_including_the_far_negative_tail():
    x = _grid32(-16, 8)  # gelu(x) ~ 1e-45 at x = -14: the tail in relative terms
    xd = x.astype(np.float64)
    got = _gelu_numba.apply("gelu", x)
    assert ulp_error(got, 0.5 * xd * sp.erfc(-xd / math.sqrt(2)), "float32") <= ULP["float32"]
    deep = (x < -10) & (x > -13)  # -7.7e-23 .. -8e-38: kept to the ulp, none flushed to 0
    assert np.all(got[deep] < 0)


def test_erfc_float64_within_four_ulp_of_mpmath():
    rng = np.random.default_rng(0)
    tiny = np.geomspace(1e-300, 1, 150)
    # SciPy's erfc is off by ~230 ulp near 26 (a rounded x^2) and underflows early: mpmath
    x = np.concatenate([rng.uniform(-6, 27.3, 1500), rng.standard_normal(300), tiny, -tiny])
    assert ulp_error(_gelu_numba.apply("erfc", x), _mp_erfc(x), "float64") <= ULP["float64"]


def test_gelu_float64_within_four_ulp_of_mpmath():
    rng = np.random.default_rng(1)
    tiny = np.geomspace(1e-300, 1, 150)
    x = np.concatenate([rng.uniform(-38.6, 6, 1500), 3 * rng.standard_normal(300), tiny, -tiny])
    assert ulp_error(_gelu_numba.apply("gelu", x), _mp_gelu(x), "float64") <= ULP["float64"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_edge_values_as_the_array_api_path(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e30, -1e30, 40.0, -40.0], dtype)
    with np.errstate(all="ignore"):
        want_e = _erfc_array_api(np, x)
        want_g = 0.5 * x * _erfc_array_api(np, -x * np.asarray(1 / math.sqrt(2), dtype))
    got_e, got_g = _gelu_numba.apply("erfc", x), _gelu_numba.apply("gelu", x)
    np.testing.assert_array_equal(got_e, want_e)  # (NaN == NaN here)
    np.testing.assert_array_equal(got_g, want_g)
    np.testing.assert_array_equal(np.signbit(got_g), np.signbit(want_g))  # gelu(-0) = -0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_the_array_api_oracle(dtype):
    x = np.random.default_rng(2).standard_normal((4, 33, 7)).astype(dtype) * 5
    testing.assert_close(_gelu_numba.apply("gelu", x),
                         0.5 * x * _erfc_array_api(np, -x * np.asarray(1 / math.sqrt(2), dtype)))
    testing.assert_close(_gelu_numba.apply("erfc", x), _erfc_array_api(np, x))


def test_shapes_layouts_and_parallel_blocks():
    rng = np.random.default_rng(3)
    big = rng.standard_normal((3, 70007)).astype(np.float32)  # over the parallel threshold
    assert big.size >= _gelu_numba._PARALLEL_MIN
    whole = _gelu_numba.apply("gelu", big)
    rows = np.stack([_gelu_numba.apply("gelu", r) for r in big])  # each on one thread
    np.testing.assert_array_equal(whole, rows)
    t = big[:, ::3].T  # strided, transposed
    np.testing.assert_array_equal(_gelu_numba.apply("gelu", t),
                                  _gelu_numba.apply("gelu", np.ascontiguousarray(t)))
    assert _gelu_numba.apply("gelu", t).shape == t.shape
    p = big.reshape(3, 7, 10001).transpose(2, 0, 1)  # a permuted view: no copy, same layout
    got = _gelu_numba.apply("gelu", p)
    assert got.strides == p.strides
    np.testing.assert_array_equal(got, np.transpose(whole.reshape(3, 7, 10001), (2, 0, 1)))
    for x in (np.float64(-1.5) * np.ones(()), np.zeros((0, 3), np.float32)):
        got = _gelu_numba.apply("erfc", x)
        assert got.shape == x.shape and got.dtype == x.dtype
    x = big.copy()
    _gelu_numba.apply("erfc", x)
    np.testing.assert_array_equal(x, big)  # input untouched


def test_public_functions_take_the_kernel_for_numpy_floats_only(monkeypatch):
    calls = []
    real = _gelu_numba.apply
    monkeypatch.setattr(_gelu_numba, "apply", lambda name, x: calls.append(name) or real(name, x))
    x = np.linspace(-3, 3, 11)
    gelu(x.astype(np.float32))
    erfc(x)
    assert calls == ["gelu", "erfc"]
    assert not _gelu_numba.eligible(x.astype(np.float16))
    assert not _gelu_numba.eligible([0.5])
    calls.clear()
    np.testing.assert_allclose(gelu(x.astype(np.float16)), gelu(x), rtol=2e-3, atol=1e-3)
    assert calls == ["gelu"]  # (the float64 call; float16 took the SciPy path)


def test_scipy_path_agrees_when_the_kernel_is_off(monkeypatch):
    x = np.random.default_rng(4).standard_normal(1000).astype(np.float32) * 4
    fast = gelu(x)
    monkeypatch.setattr(_gelu_numba, "eligible", lambda x: False)
    testing.assert_close(fast, gelu(x))
    testing.assert_close(erfc(x.astype(np.float64)), sp.erfc(x.astype(np.float64)))


def test_importing_the_layers_does_not_import_numba():
    import subprocess
    import sys

    code = ("import sys, lrnnx_array, lrnnx_array.layers, lrnnx_array.models; "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
