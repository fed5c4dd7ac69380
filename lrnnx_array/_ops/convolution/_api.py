"""Public causal FFT convolutions: matrix taps, per-channel taps and the modal SSM form."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic

__all__ = [
    "fft_conv", "fft_conv_vjp", "FFTConvGrads",
    "fft_conv_channels", "fft_conv_channels_vjp", "ChannelConvGrads",
    "ssm_conv", "ssm_conv_vjp", "SSMConvGrads", "opt_ssm_forward",
]


class FFTConvGrads(NamedTuple):
    dx: object
    dk: object


class ChannelConvGrads(NamedTuple):
    du: object
    dk: object


class SSMConvGrads(NamedTuple):
    dx: object
    dK: object
    dB_bar: object
    dC: object


def _grad(xp, g, like, dtype):
    """Real part for a real input; dtype = the input's kind at the computation's precision."""
    cplx_like = xp.isdtype(like.dtype, "complex floating")
    if xp.isdtype(g.dtype, "complex floating") and not cplx_like:
        g = xp.real(g)
    prec64 = dtype in (xp.float64, xp.complex128)
    want = (xp.complex128 if prec64 else xp.complex64) if cplx_like else (
        xp.float64 if prec64 else xp.float32)
    return g if g.dtype == want else xp.astype(g, want)


def _out(xp, y, dtype):
    return y if y.dtype == dtype else xp.astype(y, dtype)


def _reduce_to(xp):
    def reduce(g, shape):
        shape = tuple(shape)
        lead = g.ndim - len(shape)
        if lead:
            g = xp.sum(g, axis=tuple(range(lead)))
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        return xp.sum(g, axis=axes, keepdims=True) if axes else g
    return reduce


# ---- fft_conv -------------------------------------------------------------------------------


def _prep_conv(x, k, dy=None):
    xp = namespace(x, k, dy, names=("x", "k", "dy"))
    for name, a in (("x", x), ("k", k), ("dy", dy)):
        if a is not None:
            _checks.check_array_dtype(xp, name, a)
    _checks.check_ndim("x", x, 3, "(batch, L, H_in)")
    Bn, L, Hin = x.shape
    if L < 1:
        raise ValueError(f"x must have at least one time step, got shape {tuple(x.shape)}")
    _checks.check_ndim("k", k, 3, "(L, H_out, H_in)")
    _checks.check_shape("k", k, (L, None, Hin), "(L, H_out, H_in) matching x")
    _checks.check_finite(xp, "k", k)
    if dy is not None:
        _checks.check_shape("dy", dy, (Bn, L, k.shape[1]), "(batch, L, H_out)")
    return xp, _checks.result_dtype(xp, x, k, dy)


def fft_conv(x, k, *, impl="auto"):
    r"""Causal convolution with matrix taps through the FFT (lrnnx ``core.convolution.fft_conv``).

    Parameters
    ----------
    x : array, shape (batch, L, H_in)
        Input sequence, real or complex.
    k : array, shape (L, H_out, H_in)
        Kernel taps (e.g. Re(C diag(Ā^l) B̄) of an LTI SSM).
    impl : {"auto", "generic", "reference"}
        ``auto`` = ``generic`` (``xp.fft`` + ``xp.matmul``; runs on CuPy too).

    Returns
    -------
    y : array, shape (batch, L, H_out)
        Promoted dtype of ``x`` and ``k``.

    Notes
    -----
    .. math:: y_t = \sum_{s=0}^{t} k_{t-s}\, x_s

    Computed with FFTs of length 2L (linear, not circular); ``rfft`` when both inputs are real.
    lrnnx applies complex FFTs in complex64 and keeps the result complex; the values agree.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import fft_conv
    >>> k = np.zeros((4, 1, 1)); k[0] = 1.0; k[1] = 0.5
    >>> fft_conv(np.ones((1, 4, 1)), k)[0, :, 0]
    array([1. , 1.5, 1.5, 1.5])
    """
    xp, dtype = _prep_conv(x, k)
    impl = resolve_impl(impl, xp, cuda_supported=False, what="fft_conv")
    if impl == "reference":
        from ._ref import fft_conv_ref

        return xp.asarray(fft_conv_ref(x, k), dtype=dtype)
    return _out(xp, _generic.fft_conv(xp, x, k, dtype), dtype)


def fft_conv_vjp(dy, x, k, *, impl="auto"):
    """VJP of :func:`fft_conv`: returns ``FFTConvGrads(dx, dk)`` (PyTorch complex convention).

    Parameters
    ----------
    dy : array, shape (batch, L, H_out)
        Cotangent of ``y`` (real or complex).
    x, k, impl
        As for :func:`fft_conv`.

    Returns
    -------
    FFTConvGrads
        ``(dx, dk)``: ``dx`` shape (batch, L, H_in), ``dk`` shape (L, H_out, H_in). Each is real
        when its input is real (the real part of the complex gradient), at the computation's
        precision.

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
    xp, dtype = _prep_conv(x, k, dy)
    impl = resolve_impl(impl, xp, cuda_supported=False, what="fft_conv_vjp")
    if impl == "reference":
        from ._ref import fft_conv_vjp_ref

        g = fft_conv_vjp_ref(dy, x, k)
        return FFTConvGrads(*(_grad(xp, xp.asarray(gi), a, dtype) for gi, a in zip(g, (x, k))))
    dx, dk = _generic.fft_conv_vjp(xp, dy, x, k, dtype)
    return FFTConvGrads(_grad(xp, dx, x, dtype), _grad(xp, dk, k, dtype))


# ---- per-channel ------------------------------------------------------------------------------


def _prep_channels(u, k, dy=None):
    xp = namespace(u, k, dy, names=("u", "k", "dy"))
    for name, a in (("u", u), ("k", k), ("dy", dy)):
        if a is not None:
            _checks.check_array_dtype(xp, name, a)
    if u.ndim < 1 or k.ndim < 1:
        raise ValueError(f"u and k need a time axis (last), got shapes {tuple(u.shape)} and "
                         f"{tuple(k.shape)}")
    if u.shape[-1] != k.shape[-1] or u.shape[-1] < 1:
        raise ValueError(f"u and k must have the same length L >= 1 on the last axis, got shapes "
                         f"{tuple(u.shape)} and {tuple(k.shape)}")
    try:
        shape = tuple(np.broadcast_shapes(tuple(u.shape), tuple(k.shape)))
    except ValueError:
        raise ValueError(f"u with shape {tuple(u.shape)} and k with shape {tuple(k.shape)} do "
                         "not broadcast") from None
    _checks.check_finite(xp, "k", k)
    if dy is not None:
        _checks.check_broadcastable("dy", dy, shape, "the output shape")
    return xp, shape, _checks.result_dtype(xp, u, k, dy)


def fft_conv_channels(u, k, *, impl="auto"):
    r"""Per-channel causal convolution along the last axis (S4/S4D's ``FFTConvS4`` core).

    Parameters
    ----------
    u : array, shape (..., L)
        Input; broadcast against ``k`` (e.g. u (batch, 1, H, L) with k (channels, H, L)).
    k : array, shape (..., L)
        Kernel, one per channel.
    impl : {"auto", "generic", "reference"}

    Returns
    -------
    y : array, shape broadcast(u, k)

    Notes
    -----
    .. math:: y_{...,t} = \sum_{s=0}^{t} k_{...,t-s}\, u_{...,s}

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import fft_conv_channels
    >>> fft_conv_channels(np.ones(4), np.array([1.0, 0.5, 0.0, 0.0]))
    array([1. , 1.5, 1.5, 1.5])
    """
    xp, shape, dtype = _prep_channels(u, k)
    impl = resolve_impl(impl, xp, cuda_supported=False, what="fft_conv_channels")
    if impl == "reference":
        from ._ref import channel_conv_ref

        return xp.asarray(channel_conv_ref(u, k), dtype=dtype)
    return _out(xp, _generic.channel_conv(xp, u, k, dtype), dtype)


def fft_conv_channels_vjp(dy, u, k, *, impl="auto"):
    """VJP of :func:`fft_conv_channels`: ``ChannelConvGrads(du, dk)`` shaped like u and k.

    Parameters
    ----------
    dy : array, shape broadcast(u, k) (..., L)
        Cotangent of ``y`` (real or complex); broadcastable to the output shape.
    u, k, impl
        As for :func:`fft_conv_channels`.

    Returns
    -------
    ChannelConvGrads
        ``(du, dk)`` with the shapes of ``u`` and ``k`` (broadcast axes summed); each real when
        its input is real (PyTorch's complex convention otherwise).

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
    xp, shape, dtype = _prep_channels(u, k, dy)
    impl = resolve_impl(impl, xp, cuda_supported=False, what="fft_conv_channels_vjp")
    if impl == "reference":
        from ._ref import channel_conv_vjp_ref

        g = channel_conv_vjp_ref(dy, u, k)
        return ChannelConvGrads(*(_grad(xp, xp.asarray(gi), a, dtype) for gi, a in zip(g, (u, k))))
    dy = xp.broadcast_to(dy, shape)
    du, dk = _generic.channel_conv_vjp(xp, dy, u, k, dtype, _reduce_to(xp))
    return ChannelConvGrads(_grad(xp, du, u, dtype), _grad(xp, dk, k, dtype))


# ---- modal form -------------------------------------------------------------------------------


def _prep_ssm(x, K, B_bar, C, strategy, dy=None):
    names = ("x", "K", "B_bar", "C", "dy")
    xp = namespace(x, K, B_bar, C, dy, names=names)
    for name, a in zip(names, (x, K, B_bar, C, dy)):
        if a is not None:
            _checks.check_array_dtype(xp, name, a, allow_complex=name not in ("x", "dy"))
    _checks.check_option("strategy", strategy, _generic.STRATEGIES)
    _checks.check_ndim("x", x, 3, "(batch, L, H_in)")
    Bn, L, Hin = x.shape
    if L < 1:
        raise ValueError(f"x must have at least one time step, got shape {tuple(x.shape)}")
    _checks.check_ndim("K", K, 2, "(N, L)")
    N = K.shape[0]
    _checks.check_shape("K", K, (N, L), "(N, L) matching x")
    _checks.check_shape("B_bar", B_bar, (N, Hin), "(N, H_in)")
    _checks.check_ndim("C", C, 2, "(H_out, N)")
    _checks.check_shape("C", C, (None, N), "(H_out, N)")
    for name, a in (("K", K), ("B_bar", B_bar), ("C", C)):
        _checks.check_finite(xp, name, a)
    if dy is not None:
        _checks.check_shape("dy", dy, (Bn, L, C.shape[0]), "(batch, L, H_out)")
    return xp, _checks.result_dtype(xp, x, K, B_bar, C, dy)


def ssm_conv(x, K, B_bar, C, *, strategy="auto", impl="auto"):
    r"""Causal convolution of a diagonal LTI SSM given its powers (lrnnx ``opt_ssm_forward``).

    Parameters
    ----------
    x : array, shape (batch, L, H_in)
        Real input.
    K : array, shape (N, L)
        Per-mode kernel, typically the powers ``Ā_n^l`` (complex or real).
    B_bar : array, shape (N, H_in)
        Discretised input matrix.
    C : array, shape (H_out, N)
        Output matrix.
    strategy : {"auto", "kernel", "state", "frequency"}
        Contraction order (spec §3.10); ``auto`` follows lrnnx's rule. All give the same values.
    impl : {"auto", "generic", "reference"}

    Returns
    -------
    y : array, shape (batch, L, H_out)
        Real, at the precision of the promoted input dtype.

    Notes
    -----
    .. math:: y_{t,o} = \mathrm{Re}\sum_n C_{o,n}\sum_{s\le t} K_{n,t-s}\,(\bar B x_s)_n

    No factor 2 (LRU, S5-LTI and Centaurus take the real part once).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import ssm_conv
    >>> lam = np.array([0.5 + 0.0j])
    >>> K = lam[:, None] ** np.arange(4)
    >>> ssm_conv(np.ones((1, 4, 1)), K, np.ones((1, 1)), np.ones((1, 1)))[0, :, 0]
    array([1.   , 1.5  , 1.75 , 1.875])
    """
    xp, dtype = _prep_ssm(x, K, B_bar, C, strategy)
    impl = resolve_impl(impl, xp, cuda_supported=False, what="ssm_conv")
    rdt = _checks.real_dtype_of(xp, dtype)
    if impl == "reference":
        from ._ref import ssm_conv_ref

        return xp.asarray(ssm_conv_ref(x, K, B_bar, C), dtype=rdt)
    return _out(xp, _generic.ssm_conv(xp, x, K, B_bar, C, strategy, dtype), rdt)


def ssm_conv_vjp(dy, x, K, B_bar, C, *, strategy="auto", impl="auto"):
    """VJP of :func:`ssm_conv`: ``SSMConvGrads(dx, dK, dB_bar, dC)``, PyTorch complex convention.

    Parameters
    ----------
    dy : real array, shape (batch, L, H_out)
        Cotangent of ``y`` (complex ``dy`` raises ``TypeError``; ``y`` is real).
    x, K, B_bar, C, strategy, impl
        As for :func:`ssm_conv`. ``strategy`` is validated but does not change the result.

    Returns
    -------
    SSMConvGrads
        ``(dx, dK, dB_bar, dC)`` with shapes (batch, L, H_in), (N, L), (N, H_in), (H_out, N);
        ``dx`` is real, the others are complex when their input is complex (real part for a
        real input).

    Notes
    -----
    One formula serves every strategy (they compute the same function): correlations in
    frequency of the cotangent with the forward's intermediate spectra.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import ssm_conv, ssm_conv_vjp
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2, 6, 3))
    >>> lam = 0.9 * np.exp(1j * rng.uniform(0, np.pi, 4))
    >>> K = lam[:, None] ** np.arange(6)
    >>> B_bar = rng.normal(size=(4, 3)) + 1j * rng.normal(size=(4, 3))
    >>> C = rng.normal(size=(5, 4)) + 1j * rng.normal(size=(5, 4))
    >>> dy = rng.normal(size=(2, 6, 5))
    >>> g = ssm_conv_vjp(dy, x, K, B_bar, C)
    >>> [a.shape for a in g]
    [(2, 6, 3), (4, 6), (4, 3), (5, 4)]

    ``y`` is linear in ``x`` and real-linear in ``C``:

    >>> e = rng.normal(size=x.shape)
    >>> np.allclose(np.sum(dy * ssm_conv(e, K, B_bar, C)), np.sum(g.dx * e))
    True
    >>> e = rng.normal(size=C.shape) + 1j * rng.normal(size=C.shape)
    >>> np.allclose(np.sum(dy * ssm_conv(x, K, B_bar, e)), np.vdot(g.dC, e).real)
    True
    """
    xp, dtype = _prep_ssm(x, K, B_bar, C, strategy, dy)
    impl = resolve_impl(impl, xp, cuda_supported=False, what="ssm_conv_vjp")
    args = (x, K, B_bar, C)
    if impl == "reference":
        from ._ref import ssm_conv_vjp_ref

        g = ssm_conv_vjp_ref(dy, *args)
        return SSMConvGrads(*(_grad(xp, xp.asarray(gi), a, dtype) for gi, a in zip(g, args)))
    g = _generic.ssm_conv_vjp(xp, dy, *args, dtype)
    return SSMConvGrads(*(_grad(xp, gi, a, dtype) for gi, a in zip(g, args)))


#: lrnnx's name for :func:`ssm_conv`.
opt_ssm_forward = ssm_conv
