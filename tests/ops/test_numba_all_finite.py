"""numba_support.all_finite (the check_finite pass once the numba tier is loaded) against
np.isfinite: every dtype it reads, both contiguous layouts, NaN / inf / -inf in either part of a
complex entry at the first, a middle and the last position, empty and 0-d arrays; None (ask
np.isfinite) for what it does not read; and the public check's error through it."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import needs_numba

from lrnnx_array import ops
from lrnnx_array._dispatch import check_finite_array
from lrnnx_array._ops._shared import numba_support as nbs

pytestmark = needs_numba

DTYPES = ("float32", "float64", "complex64", "complex128")
BAD = (np.nan, np.inf, -np.inf)


@pytest.fixture(autouse=True)
def _loaded():
    nbs.numba()  # all_finite never imports numba itself


def _arrays(dtype, shape=(5, 7), order="C"):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 1e30  # large finite values: their sum may overflow
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return np.asarray(x.astype(dtype), order=order)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
def test_matches_isfinite(dtype, order):
    x = _arrays(dtype, order=order)
    assert nbs.all_finite(x) is True
    for bad in BAD:
        for pos in (0, x.size // 2, x.size - 1):
            for part in ("real", "imag") if x.dtype.kind == "c" else ("real",):
                y = x.copy(order=order)
                flat = y.reshape(-1, order="A")
                assert np.shares_memory(flat, y)
                if part == "real":
                    flat.real[pos] = bad
                else:
                    flat.imag[pos] = bad
                assert nbs.all_finite(y) is False, (bad, pos, part)
                assert not np.isfinite(y).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_and_scalar(dtype):
    assert nbs.all_finite(np.zeros((0, 3), dtype)) is True
    assert nbs.all_finite(np.asarray(1.5, dtype)) is True
    assert nbs.all_finite(np.asarray(np.inf, dtype)) is False


@pytest.mark.parametrize("x", [
    np.ones(4, np.float16),  # no float16 in numba
    np.ones(4, np.int64),
    np.ones(4, ">f8"),  # not the native byte order
    np.ones((4, 4))[:, ::2],  # neither contiguous layout
], ids=["float16", "int64", "big-endian", "strided"])
def test_declines_what_it_does_not_read(x):
    assert nbs.all_finite(x) is None
    check_finite_array(np, "x", x)  # np.isfinite answers instead
    if x.dtype.kind == "f":
        y = x.copy() if x.flags.c_contiguous else np.ones((4, 4), x.dtype)[:, ::2]
        y[..., -1] = np.nan
        assert nbs.all_finite(y) is None
        with pytest.raises(ValueError, match="x must be finite"):
            check_finite_array(np, "x", y)


def test_public_check_rejects_through_it():
    rng = np.random.default_rng(1)
    state = np.zeros((2, 4), np.complex64)
    x, dt = rng.standard_normal((2, 3)).astype(np.float32), np.full(4, 0.1, np.float32)
    A = (-rng.uniform(size=4) + 0.1j).astype(np.complex64)
    B = (rng.standard_normal((4, 3)) + 0j).astype(np.complex64)
    C = (rng.standard_normal((3, 4)) + 0j).astype(np.complex64)
    ops.simplified_state_update(state.copy(), x, dt, A, B, C)
    C[1, 2] = complex(0, np.inf)
    before = state.copy()
    with pytest.raises(ValueError, match="C must be finite"):
        ops.simplified_state_update(state, x, dt, A, B, C)
    np.testing.assert_array_equal(state, before)
