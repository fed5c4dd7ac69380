"""Issue 9's bad-input classes for fft_conv, fft_conv_channels and ssm_conv (and their VJPs):
None, int/bool arrays, float16, mixed precision, zero sizes, public names, check_finite, and what
a non-finite input does (causal in the reference; spread over its row by the FFT, as documented).
"""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array._ops.convolution._ref import channel_conv_ref, fft_conv_ref, ssm_conv_ref
from lrnnx_array.ops import (
    fft_conv,
    fft_conv_channels,
    fft_conv_channels_vjp,
    fft_conv_vjp,
    ssm_conv,
    ssm_conv_vjp,
)

IMPLS = ["generic", "reference"]
# NaN arithmetic is the point of the non-finite tests: its RuntimeWarnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")


def _conv(rng, Bn=2, L=7, Hin=3, Hout=2):
    return rng.standard_normal((Bn, L, Hin)), rng.standard_normal((L, Hout, Hin))


def _channels(rng, L=7):
    return rng.standard_normal((2, 1, 3, L)), rng.standard_normal((4, 3, L))


def _ssm(rng, Bn=2, L=7, Hin=3, N=4, Hout=2):
    lam = 0.9 * np.exp(1j * rng.uniform(0, np.pi, N))
    cx = (lambda *s: rng.standard_normal(s) + 1j * rng.standard_normal(s))
    return rng.standard_normal((Bn, L, Hin)), lam[:, None] ** np.arange(L), cx(N, Hin), cx(Hout, N)


def test_none_for_a_required_array_names_it(rng):
    x, k = _conv(rng)
    with pytest.raises(TypeError, match="fft_conv: k is required"):
        fft_conv(x, None)
    with pytest.raises(TypeError, match="dy is required"):
        fft_conv_vjp(None, x, k)
    u, kc = _channels(rng)
    with pytest.raises(TypeError, match="u is required"):
        fft_conv_channels(None, kc)
    with pytest.raises(TypeError, match="dy is required"):
        fft_conv_channels_vjp(None, u, kc)  # used to give all-NaN gradients
    x, K, Bb, C = _ssm(rng)
    for i, name in enumerate(("x", "K", "B_bar", "C")):
        args = [x, K, Bb, C]
        args[i] = None
        with pytest.raises(TypeError, match=f"ssm_conv: {name} is required"):
            ssm_conv(*args)
    with pytest.raises(TypeError, match="dy is required"):
        ssm_conv_vjp(None, x, K, Bb, C)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_integer_and_bool_arrays_raise_type_error(rng, dtype):
    x, k = _conv(rng)
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        fft_conv(x.astype(dtype), k)
    with pytest.raises(TypeError, match="dy must have a floating dtype"):
        fft_conv_vjp(np.ones((2, 7, 2), dtype), x, k)
    u, kc = _channels(rng)
    with pytest.raises(TypeError, match="k must have a floating dtype"):
        fft_conv_channels(u, kc.astype(dtype))
    x, K, Bb, C = _ssm(rng)
    with pytest.raises(TypeError, match="B_bar must have a floating dtype"):
        ssm_conv(x, K, np.ones(Bb.shape, dtype), C)
    with pytest.raises(TypeError, match="dy must have a real floating dtype"):
        ssm_conv_vjp(np.ones((2, 7, 2), dtype), x, K, Bb, C)


@pytest.mark.parametrize("impl", IMPLS)
def test_float16_computes_and_returns_float32(rng, impl):
    x, k = _conv(rng)
    y = fft_conv(x.astype(np.float16), k.astype(np.float16), impl=impl)
    assert y.dtype == np.float32
    want = fft_conv_ref(x.astype(np.float16), k.astype(np.float16))
    testing.assert_close(y, want.astype(np.float32))
    g = fft_conv_vjp(np.ones((2, 7, 2), np.float16), x.astype(np.float16), k, impl=impl)
    assert g.dx.dtype == np.float64 and g.dk.dtype == np.float64  # promoted with float64 k
    g = fft_conv_vjp(np.ones((2, 7, 2), np.float16), x.astype(np.float16),
                     k.astype(np.float16), impl=impl)
    assert g.dx.dtype == np.float32 and g.dk.dtype == np.float32
    u, kc = _channels(rng)
    assert fft_conv_channels(u.astype(np.float16), kc.astype(np.float16),
                             impl=impl).dtype == np.float32
    x, K, Bb, C = _ssm(rng)
    y = ssm_conv(x.astype(np.float16), K.astype(np.complex64), Bb.astype(np.complex64),
                 C.astype(np.complex64), impl=impl)
    assert y.dtype == np.float32


def test_mixed_precision_promotes_never_demotes(rng):
    x, K, Bb, C = _ssm(rng)
    y = ssm_conv(x, K.astype(np.complex64), Bb.astype(np.complex64), C.astype(np.complex64))
    assert y.dtype == np.float64  # x float64 promotes the complex64 parameters to complex128
    g = ssm_conv_vjp(rng.standard_normal(y.shape).astype(np.float32), x.astype(np.float32),
                     K, Bb.astype(np.complex64), C.astype(np.complex64))
    assert [a.dtype for a in g] == [np.float64] + [np.complex128] * 3
    xc, k = _conv(rng)
    assert fft_conv(xc.astype(np.float32), k.astype(np.complex64) + 0j).dtype == np.complex64
    assert fft_conv(xc.astype(np.float32), k).dtype == np.float64
    u, kc = _channels(rng)
    assert fft_conv_channels(u.astype(np.float32), kc.astype(np.complex64)).dtype == np.complex64


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dim", ["Bn", "L", "Hin", "Hout"])
def test_fft_conv_zero_sizes(rng, impl, dim):
    x, k = _conv(rng, **{dim: 0})
    y = fft_conv(x, k, impl=impl)
    np.testing.assert_array_equal(y, fft_conv_ref(x, k))  # empty, or zeros for H_in = 0
    dy = rng.standard_normal(y.shape)
    g = fft_conv_vjp(dy, x, k, impl=impl)
    assert g.dx.shape == x.shape and g.dk.shape == k.shape
    assert not np.any(g.dx) and not np.any(g.dk)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("ushape,kshape", [((0, 1, 3, 5), (4, 3, 5)), ((2, 1, 3, 0), (4, 3, 0)),
                                           ((2, 1, 0, 5), (4, 1, 5))])
def test_channels_zero_sizes(rng, impl, ushape, kshape):
    u, k = rng.standard_normal(ushape), rng.standard_normal(kshape)
    y = fft_conv_channels(u, k, impl=impl)
    assert y.shape == np.broadcast_shapes(ushape, kshape) and y.size == 0
    g = fft_conv_channels_vjp(np.ones(y.shape), u, k, impl=impl)
    assert g.du.shape == ushape and g.dk.shape == kshape
    assert not np.any(g.du) and not np.any(g.dk)  # an empty sum is zero (dk over batch 0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dim", ["Bn", "L", "Hin", "N", "Hout"])
def test_ssm_conv_zero_sizes(rng, impl, dim):
    # used to raise ZeroDivisionError in the strategy rule
    x, K, Bb, C = _ssm(rng, **{dim: 0})
    for s in ("auto", "kernel", "state", "frequency"):
        y = ssm_conv(x, K, Bb, C, strategy=s, impl=impl)
        assert y.shape == (x.shape[0], x.shape[1], C.shape[0]) and y.dtype == np.float64
        assert not np.any(y)  # empty, or an empty sum (H_in = 0 or N = 0)
    g = ssm_conv_vjp(np.ones(y.shape), x, K, Bb, C, impl=impl)
    assert [a.shape for a in g] == [a.shape for a in (x, K, Bb, C)]
    assert g.dx.dtype == np.float64 and g.dK.dtype == np.complex128
    assert all(not np.any(a) for a in g)


def test_parameters_are_value_checked_only_under_check_finite(rng):
    x, k = _conv(rng)
    k[2, 0, 0] = np.nan
    with pytest.raises(ValueError, match="k must be finite"):
        fft_conv(x, k)
    with pytest.raises(ValueError, match="k must be finite"):
        fft_conv_vjp(np.ones((2, 7, 2)), x, k)
    assert np.isnan(fft_conv(x, k, check_finite=False)).any()
    x, K, Bb, C = _ssm(rng)
    C[0, 0] = np.inf
    with pytest.raises(ValueError, match="C must be finite"):
        ssm_conv(x, K, Bb, C)
    ssm_conv(x, K, Bb, C, check_finite=False)
    with pytest.raises(TypeError, match="check_finite must be a bool"):
        fft_conv_channels(*_channels(rng), check_finite="no")
    # activations are never value-checked
    x[0, 3, 0] = np.nan
    fft_conv(x, _conv(rng)[1])


def test_messages_use_public_names(rng):
    x, K, Bb, C = _ssm(rng)
    with pytest.raises(ValueError, match=r"B_bar must have shape \(N, H_in\)"):
        ssm_conv(x, K, Bb.T, C)
    with pytest.raises(ValueError, match="strategy must be one of"):
        ssm_conv_vjp(np.ones((2, 7, 2)), x, K, Bb, C, strategy="einsum")
    with pytest.raises(ValueError, match=r"dy with shape \(5, 7\) does not broadcast"):
        fft_conv_channels_vjp(np.ones((5, 7)), *_channels(rng))


# ---- a non-finite input at time t0 ------------------------------------------------------------


def _nan_at(a, t0, axis):
    a = a.copy()
    idx = [0] * a.ndim
    idx[axis] = t0
    a[tuple(idx)] = np.nan
    return a


def _check_reference_causal_and_fft_row_local(call, clean, bad, prefix, t0, row):
    """reference: outputs before t0 equal the clean prefix's; generic: the poisoned row is
    non-finite at every time (documented), every other row equals the clean call."""
    ref = call(bad, "reference")
    np.testing.assert_array_equal(np.isfinite(ref[row][..., :t0, :] if ref.ndim == 3 else
                                              ref[row][..., :t0]), True)
    want = call(prefix, "reference")
    got = ref[..., :t0, :] if ref.ndim == 3 else ref[..., :t0]
    testing.assert_close(got, want)
    gen = call(bad, "generic")
    assert not np.isfinite(gen[row]).any()  # the FFT spreads the NaN over all times of the row
    others = [i for i in range(gen.shape[0]) if i != row]
    testing.assert_close(gen[others], call(clean, "generic")[others])


def test_nonfinite_input_fft_conv(rng):
    x, k = _conv(rng, L=9)
    t0 = 5
    bad = _nan_at(x, t0, 1)
    _check_reference_causal_and_fft_row_local(
        lambda a, impl: fft_conv(a, k[: a.shape[1]], impl=impl), x, bad, x[:, :t0], t0, 0)


def test_nonfinite_input_ssm_conv(rng):
    x, K, Bb, C = _ssm(rng, L=9)
    t0 = 4
    bad = _nan_at(x, t0, 1)
    for s in ("kernel", "state", "frequency"):
        _check_reference_causal_and_fft_row_local(
            lambda a, impl, s=s: ssm_conv(a, K[:, : a.shape[1]], Bb, C, strategy=s, impl=impl), x,
            bad, x[:, :t0], t0, 0)


def test_nonfinite_input_channels(rng):
    u, k = rng.standard_normal((2, 3, 9)), rng.standard_normal((3, 9))
    t0 = 6
    bad = _nan_at(u, t0, 2)  # row (0, 0)
    ref = fft_conv_channels(bad, k, impl="reference")
    testing.assert_close(ref[..., :t0], channel_conv_ref(u[..., :t0], k[..., :t0]))
    assert not np.isfinite(ref[0, 0, t0:]).any()
    gen = fft_conv_channels(bad, k, impl="generic")
    assert not np.isfinite(gen[0, 0]).any()  # the FFT spreads it over the channel's times
    clean = fft_conv_channels(u, k, impl="generic")
    testing.assert_close(gen[1], clean[1])
    testing.assert_close(gen[0, 1:], clean[0, 1:])


def test_reference_oracles_are_not_the_fft(rng):
    # the canonical reference functions are direct sums: equal to the *_ref oracles bit for bit
    x, K, Bb, C = _ssm(rng)
    np.testing.assert_array_equal(ssm_conv(x, K, Bb, C, impl="reference"),
                                  ssm_conv_ref(x, K, Bb, C))
