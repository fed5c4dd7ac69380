"""Public causal FFT convolutions with matrix taps and per-channel taps (the modal SSM form is in
``_ssm_api``).

Each op is one :class:`OpSpec` (its messages name the public function); the implementations are
``_generic`` (``xp.fft`` + ``xp.matmul``) and ``_ref`` (direct float64 sums). There is no CUDA
kernel: ``auto`` runs ``generic`` on every namespace, CuPy included (cuFFT through ``xp.fft``).
"""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec
from .._shared.grads import grad_like
from .._shared.grouping import broadcast_shapes

__all__ = [
    "fft_conv", "fft_conv_vjp", "FFTConvGrads",
    "fft_conv_channels", "fft_conv_channels_vjp", "ChannelConvGrads",
    "FFT_SPEC", "CHANNELS_SPEC", "IMPLS", "cast",
]

IMPLS = {"reference": "_ref", "generic": "_generic"}
FFT_SPEC = OpSpec("fft_conv", __package__, (Arg("x"), Arg("k", param=True)), impls=IMPLS)
CHANNELS_SPEC = OpSpec("fft_conv_channels", __package__, (Arg("u"), Arg("k", param=True)),
                       impls=IMPLS)
_COTANGENT = {"dy": Arg("dy")}

class FFTConvGrads(NamedTuple):
    dx: object
    dk: object


class ChannelConvGrads(NamedTuple):
    du: object
    dk: object


def cast(xp, a, dtype):
    return None if a is None else (a if a.dtype == dtype else xp.astype(a, dtype))


def _empty(shape):
    return any(n == 0 for n in shape)


# ---- fft_conv -------------------------------------------------------------------------------


def _conv_shapes(xp, x, k, dy=None):
    """((batch, L, H_in, H_out), compute dtype); only shapes are read."""
    _checks.check_ndim("x", x, 3, "(batch, L, H_in)")
    Bn, L, Hin = x.shape
    _checks.check_ndim("k", k, 3, "(L, H_out, H_in)")
    _checks.check_shape("k", k, (L, None, Hin), "(L, H_out, H_in) matching x")
    if dy is not None:
        _checks.check_shape("dy", dy, (Bn, L, k.shape[1]), "(batch, L, H_out)")
    return (Bn, L, Hin, k.shape[1]), _checks.result_dtype(xp, x, k, dy)


def fft_conv(x, k, *, impl="auto", check_finite=True):
    r"""Causal convolution with matrix taps through the FFT (lrnnx ``core.convolution.fft_conv``).

    Parameters
    ----------
    x : array, shape (batch, L, H_in)
        Input sequence, real or complex.
    k : array, shape (L, H_out, H_in)
        Kernel taps (e.g. Re(C diag(Ā^l) B̄) of an LTI SSM).
    impl : {"auto", "generic", "reference"}
        ``auto`` = ``generic`` (``xp.fft`` + ``xp.matmul``; runs on CuPy too); ``reference``
        is the NumPy float64 direct sum (the test oracle).
    check_finite : bool, default True
        Whether to check that the kernel ``k`` contains only finite numbers (``x`` is an
        activation and is not checked). Disabling may give a performance gain (no device
        synchronisation), but may give NaN/inf results if ``k`` does contain infinities or NaNs.

    Returns
    -------
    y : array, shape (batch, L, H_out)
        Promoted dtype of ``x`` and ``k`` (float16 computes and returns float32). Any size may
        be 0 (an empty input gives an empty or all-zero output).

    Notes
    -----
    .. math:: y_t = \sum_{s=0}^{t} k_{t-s}\, x_s

    Computed with FFTs of length 2L (linear, not circular); ``rfft`` when both inputs are real.
    lrnnx applies complex FFTs in complex64 and keeps the result complex; the values agree.
    Unlike lrnnx's ``fft_conv(equation, input, *args)``, this takes the taps, not an einsum.

    A NaN or inf in the input at time :math:`t_0` makes every output of its row
    non-finite at *all* times under ``generic``: an FFT mixes all times, so causality does not
    hold for non-finite values (the values stay within the row; other rows are exact).
    ``impl="reference"`` (direct sums) keeps outputs before :math:`t_0` equal to those of the
    clean prefix.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import fft_conv
    >>> k = np.zeros((4, 1, 1)); k[0] = 1.0; k[1] = 0.5
    >>> fft_conv(np.ones((1, 4, 1)), k)[0, :, 0]
    array([1. , 1.5, 1.5, 1.5])
    """
    xp = FFT_SPEC.validate({"x": x, "k": k}, check_finite=check_finite)
    (Bn, L, Hin, Hout), dtype = _conv_shapes(xp, x, k)
    name = FFT_SPEC.resolve(impl, xp, dtype)
    if _empty((Bn, L, Hin, Hout)):
        return xp.zeros((Bn, L, Hout), dtype=dtype)
    return FFT_SPEC.get(name, "forward")(xp, cast(xp, x, dtype), cast(xp, k, dtype))


def fft_conv_vjp(dy, x, k, *, impl="auto", check_finite=True):
    r"""VJP of :func:`fft_conv`: returns ``FFTConvGrads(dx, dk)`` (PyTorch complex convention).

    Parameters
    ----------
    dy : array, shape (batch, L, H_out)
        Cotangent of ``y`` (real or complex).
    x, k, impl, check_finite
        As for :func:`fft_conv`.

    Returns
    -------
    FFTConvGrads
        ``(dx, dk)``: ``dx`` shape (batch, L, H_in), ``dk`` shape (L, H_out, H_in). Each is real
        when its input is real (the real part of the complex gradient), at the computation's
        precision.

    Notes
    -----
    :math:`dx_s = \sum_{t\ge s} \overline{k_{t-s}}^T dy_t`,
    :math:`dk_j = \sum_{b,t} dy_t\,\overline{x_{t-j}}^T`: correlations, computed in
    frequency. A non-finite ``dy`` spreads over all times of its row as in the forward.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import fft_conv, fft_conv_vjp
    >>> rng = np.random.default_rng(0)
    >>> x, k = rng.normal(size=(2, 6, 3)), rng.normal(size=(6, 4, 3))
    >>> dy = rng.normal(size=(2, 6, 4))
    >>> g = fft_conv_vjp(dy, x, k)
    >>> g.dx.shape, g.dk.shape
    ((2, 6, 3), (6, 4, 3))

    ``y`` is linear in ``x`` and in ``k``, so ``<dy, fft_conv(e, k)> == <dx, e>``:

    >>> e = rng.normal(size=x.shape)
    >>> np.allclose(np.sum(dy * fft_conv(e, k)), np.sum(g.dx * e))
    True
    >>> e = rng.normal(size=k.shape)
    >>> np.allclose(np.sum(dy * fft_conv(x, e)), np.sum(g.dk * e))
    True
    """
    xp = FFT_SPEC.validate({"dy": dy, "x": x, "k": k}, check_finite=check_finite,
                           extra=_COTANGENT)
    sizes, dtype = _conv_shapes(xp, x, k, dy)
    name = FFT_SPEC.resolve(impl, xp, dtype)
    if _empty(sizes):
        return FFTConvGrads(grad_like(xp, xp.zeros(tuple(x.shape), dtype=dtype), x),
                            grad_like(xp, xp.zeros(tuple(k.shape), dtype=dtype), k))
    dx, dk = FFT_SPEC.get(name, "backward")(
        xp, cast(xp, dy, dtype), cast(xp, x, dtype), cast(xp, k, dtype))
    return FFTConvGrads(grad_like(xp, dx, x), grad_like(xp, dk, k))


# ---- per-channel ------------------------------------------------------------------------------


def _channel_shapes(xp, u, k, dy=None):
    """(broadcast output shape, compute dtype); only shapes are read."""
    if u.ndim < 1 or k.ndim < 1:
        raise ValueError(f"u and k need a time axis (last), got shapes {tuple(u.shape)} and "
                         f"{tuple(k.shape)}")
    if u.shape[-1] != k.shape[-1]:
        raise ValueError(f"u and k must have the same length L on the last axis, got shapes "
                         f"{tuple(u.shape)} and {tuple(k.shape)}")
    try:
        shape = broadcast_shapes(tuple(u.shape), tuple(k.shape))
    except ValueError:
        raise ValueError(f"u with shape {tuple(u.shape)} and k with shape {tuple(k.shape)} do "
                         "not broadcast") from None
    if dy is not None:
        _checks.check_broadcastable("dy", dy, shape, "the output shape")
    return shape, _checks.result_dtype(xp, u, k, dy)


def fft_conv_channels(u, k, *, impl="auto", check_finite=True):
    r"""Per-channel causal convolution along the last axis (S4/S4D's ``FFTConvS4`` core).

    Parameters
    ----------
    u : array, shape (..., L)
        Input; broadcast against ``k`` (e.g. u (batch, 1, H, L) with k (channels, H, L)).
    k : array, shape (..., L)
        Kernel, one per channel.
    impl : {"auto", "generic", "reference"}
        ``auto`` = ``generic`` (``xp.fft``); ``reference`` is the float64 direct sum.
    check_finite : bool, default True
        Whether to check that the kernel ``k`` contains only finite numbers (``u`` is an
        activation). Disabling may give a performance gain (no device synchronisation), but
        may give NaN/inf results if ``k`` does contain infinities or NaNs.

    Returns
    -------
    y : array, shape broadcast(u, k)
        Promoted dtype of ``u`` and ``k`` (float16 gives float32); L = 0 or any empty axis
        gives an empty result.

    Notes
    -----
    .. math:: y_{...,t} = \sum_{s=0}^{t} k_{...,t-s}\, u_{...,s}

    A NaN or inf in the input at time :math:`t_0` makes every output of its row
    non-finite at *all* times under ``generic``: an FFT mixes all times, so causality does not
    hold for non-finite values (the values stay within the row; other rows are exact).
    ``impl="reference"`` (direct sums) keeps outputs before :math:`t_0` equal to those of the
    clean prefix.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import fft_conv_channels
    >>> fft_conv_channels(np.ones(4), np.array([1.0, 0.5, 0.0, 0.0]))
    array([1. , 1.5, 1.5, 1.5])
    """
    xp = CHANNELS_SPEC.validate({"u": u, "k": k}, check_finite=check_finite)
    shape, dtype = _channel_shapes(xp, u, k)
    name = CHANNELS_SPEC.resolve(impl, xp, dtype)
    if _empty(shape):
        return xp.zeros(shape, dtype=dtype)
    return CHANNELS_SPEC.get(name, "channels_forward")(xp, cast(xp, u, dtype), cast(xp, k, dtype))


def fft_conv_channels_vjp(dy, u, k, *, impl="auto", check_finite=True):
    """VJP of :func:`fft_conv_channels`: ``ChannelConvGrads(du, dk)`` shaped like u and k.

    Parameters
    ----------
    dy : array, shape broadcast(u, k) (..., L)
        Cotangent of ``y`` (real or complex); broadcastable to the output shape.
    u, k, impl, check_finite
        As for :func:`fft_conv_channels`.

    Returns
    -------
    ChannelConvGrads
        ``(du, dk)`` with the shapes of ``u`` and ``k`` (broadcast axes summed); each real when
        its input is real (PyTorch's complex convention otherwise), at the computation's
        precision.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import fft_conv_channels, fft_conv_channels_vjp
    >>> rng = np.random.default_rng(0)
    >>> u, k = rng.normal(size=(2, 1, 6)), rng.normal(size=(3, 6))
    >>> dy = rng.normal(size=(2, 3, 6))
    >>> g = fft_conv_channels_vjp(dy, u, k)
    >>> g.du.shape, g.dk.shape
    ((2, 1, 6), (3, 6))

    ``y`` is linear in ``u``, so ``<dy, fft_conv_channels(e, k)> == <du, e>``:

    >>> e = rng.normal(size=u.shape)
    >>> np.allclose(np.sum(dy * fft_conv_channels(e, k)), np.sum(g.du * e))
    True
    """
    xp = CHANNELS_SPEC.validate({"dy": dy, "u": u, "k": k}, check_finite=check_finite,
                                extra=_COTANGENT)
    shape, dtype = _channel_shapes(xp, u, k, dy)
    name = CHANNELS_SPEC.resolve(impl, xp, dtype)
    if _empty(shape):
        return ChannelConvGrads(grad_like(xp, xp.zeros(tuple(u.shape), dtype=dtype), u),
                                grad_like(xp, xp.zeros(tuple(k.shape), dtype=dtype), k))
    du, dk = CHANNELS_SPEC.get(name, "channels_backward")(
        xp, xp.broadcast_to(cast(xp, dy, dtype), shape), cast(xp, u, dtype), cast(xp, k, dtype))
    return ChannelConvGrads(grad_like(xp, du, u), grad_like(xp, dk, k))
