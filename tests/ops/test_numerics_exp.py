"""numerics.exp: e^x of complex x from real parts (e^a cos b, e^a sin b) matches the complex
exponential at the dtype's tolerance, on every backend, and leaves real x to xp.exp."""

import numpy as np

from lrnnx_array import testing
from lrnnx_array._ops._shared import numerics


def test_exp_matches_the_complex_exponential(xp, dtype, rng):
    # |Re| up to ~10 (e^a spans 5 decades), Im up to ~300 (the range reduction of cos/sin).
    x = rng.uniform(-10, 2, (7, 33)) + (1j * rng.uniform(-300, 300, (7, 33))
                                        if dtype.startswith("complex") else 0)
    x = np.concatenate([x, np.zeros((1, 33))])  # e^0 = 1 exactly
    xin = testing.from_numpy(xp, x, dtype)
    got = numerics.exp(xp, xin)
    assert got.dtype == xin.dtype and tuple(got.shape) == x.shape
    want = np.exp(testing.to_numpy(xin).astype(np.complex128 if dtype.startswith("complex")
                                                 else np.float64))
    testing.assert_close(got, testing.from_numpy(xp, want, dtype))


def test_complex_assembly_keeps_broadcast_shapes(xp):
    re = testing.from_numpy(xp, np.ones((3, 1)), "float32")
    im = testing.from_numpy(xp, np.arange(4.0).reshape(1, 4), "float32")
    z = numerics._complex(xp, re, im, xp.complex64)
    assert tuple(z.shape) == (3, 4) and z.dtype == xp.complex64
    want = np.ones((3, 1)) + 1j * np.arange(4.0)[None, :]
    np.testing.assert_array_equal(testing.to_numpy(z), want)
