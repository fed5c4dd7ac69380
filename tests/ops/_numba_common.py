"""Shared by tests/ops/test_numba_*.py: skip without numba, compare an impl with the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops._shared import numba_support

needs_numba = pytest.mark.skipif(not numba_support.available(),
                                 reason=f"numba tier unavailable: "
                                        f"{numba_support.unavailable_reason()}")

REAL = ("float32", "float64")
COMPLEX = ("complex64", "complex128")


def rounded(x, dtype):
    """``x`` rounded to ``dtype``'s precision (its kind kept), back in float64/complex128: both
    the numba run and the float64 oracle then see the same numbers."""
    if x is None:
        return None
    x = np.asarray(x)
    low = {"float32": np.float32, "complex64": np.complex64}.get(dtype, np.float64)
    if np.iscomplexobj(x):
        low = np.complex64 if low is np.float32 or low is np.complex64 else np.complex128
    elif low is np.complex64:
        low = np.float32
    return x.astype(low)


def cast(x, dtype):
    """The array the op gets: ``rounded`` in its low precision."""
    return None if x is None else rounded(x, dtype)


def want(x):
    return None if x is None else np.asarray(x, dtype=np.complex128 if np.iscomplexobj(x)
                                             else np.float64)


def close_all(names, got, ref, dtype, override=None, normwise=False):
    """Each result against the float64 oracle at the table's tolerance for ``dtype``'s
    precision (the result's kind), naming the result on failure."""
    for name, g, r in zip(names, got, ref):
        if r is None:
            assert g is None, f"{name}: expected None, got an array"
            continue
        r = np.asarray(r)
        low = np.dtype(g.dtype)
        testing.assert_close(g, r.astype(low), override=override, normwise=normwise,
                             err_msg=name)
