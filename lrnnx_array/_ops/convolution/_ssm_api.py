"""Public modal (state-space) causal convolution: lrnnx's ``opt_ssm_forward`` (spec §3.10)."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec
from .._shared.grads import grad_like
from ._api import IMPLS, cast
from ._generic import STRATEGIES

__all__ = ["ssm_conv", "ssm_conv_vjp", "SSMConvGrads", "opt_ssm_forward", "SSM_SPEC"]

SSM_SPEC = OpSpec(
    "ssm_conv",
    __package__,
    (Arg("x", "real"), Arg("K", param=True), Arg("B_bar", param=True), Arg("C", param=True)),
    impls=IMPLS,
    options={"strategy": STRATEGIES},
)
_COTANGENT = {"dy": Arg("dy", "real")}


class SSMConvGrads(NamedTuple):
    dx: object
    dK: object
    dB_bar: object
    dC: object


def _shapes(xp, x, K, B_bar, C, dy=None):
    """((batch, L, H_in, N, H_out), compute dtype of K, B_bar, C); only shapes are read."""
    _checks.check_ndim("x", x, 3, "(batch, L, H_in)")
    Bn, L, Hin = x.shape
    _checks.check_ndim("K", K, 2, "(N, L)")
    N = K.shape[0]
    _checks.check_shape("K", K, (N, L), "(N, L) matching x")
    _checks.check_shape("B_bar", B_bar, (N, Hin), "(N, H_in)")
    _checks.check_ndim("C", C, 2, "(H_out, N)")
    _checks.check_shape("C", C, (None, N), "(H_out, N)")
    if dy is not None:
        _checks.check_shape("dy", dy, (Bn, L, C.shape[0]), "(batch, L, H_out)")
    return (Bn, L, Hin, N, C.shape[0]), _checks.result_dtype(xp, x, K, B_bar, C, dy)


def _canonical(xp, dtype, x, K, B_bar, C):
    rdt = _checks.real_dtype_of(xp, dtype)
    return cast(xp, x, rdt), cast(xp, K, dtype), cast(xp, B_bar, dtype), cast(xp, C, dtype)


def ssm_conv(x, K, B_bar, C, *, strategy="auto", impl="auto", check_finite=True):
    r"""Causal convolution of a diagonal LTI SSM given its powers (lrnnx ``opt_ssm_forward``).

    Parameters
    ----------
    x : real array, shape (batch, L, H_in)
        Input.
    K : array, shape (N, L)
        Per-mode kernel, typically the powers ``Ā_n^l`` (complex or real).
    B_bar : array, shape (N, H_in)
        Discretised input matrix.
    C : array, shape (H_out, N)
        Output matrix.
    strategy : {"auto", "kernel", "state", "frequency"}
        Contraction order (spec §3.10); ``auto`` follows lrnnx's rule. All give the same values.
    impl : {"auto", "generic", "reference"}
        ``auto`` = ``generic`` (``xp.fft`` + ``xp.matmul``); ``reference`` is the float64
        direct sum (every strategy gives it).
    check_finite : bool, default True
        Whether to check that the parameters ``K``, ``B_bar`` and ``C`` contain only finite
        numbers (``x`` is an activation). Disabling may give a performance gain (no device
        synchronisation), but may give NaN/inf results if they do contain infinities or NaNs.

    Returns
    -------
    y : array, shape (batch, L, H_out)
        Real, at the precision of the promoted input dtype (float16 computes in float32).
        Any size may be 0: an empty contraction (H_in = 0 or N = 0) gives zeros.

    Notes
    -----
    .. math:: y_{t,o} = \mathrm{Re}\sum_n C_{o,n}\sum_{s\le t} K_{n,t-s}\,(\bar B x_s)_n

    No factor 2 (LRU, S5-LTI and Centaurus take the real part once).

    A NaN or inf in ``x`` at time :math:`t_0` makes every output of its batch row non-finite
    at *all* times under ``generic``, whatever the strategy: an FFT mixes all times, so
    causality does not hold for non-finite values (other batch rows are exact).
    ``impl="reference"`` (direct sums) keeps outputs before :math:`t_0` equal to those of the
    clean prefix.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import ssm_conv
    >>> lam = np.array([0.5 + 0.0j])
    >>> K = lam[:, None] ** np.arange(4)
    >>> ssm_conv(np.ones((1, 4, 1)), K, np.ones((1, 1)), np.ones((1, 1)))[0, :, 0]
    array([1.   , 1.5  , 1.75 , 1.875])
    """
    xp = SSM_SPEC.validate({"x": x, "K": K, "B_bar": B_bar, "C": C},
                           options={"strategy": strategy}, check_finite=check_finite)
    (Bn, L, Hin, N, Hout), dtype = _shapes(xp, x, K, B_bar, C)
    name = SSM_SPEC.resolve(impl, xp, dtype)
    rdt = _checks.real_dtype_of(xp, dtype)
    if 0 in (Bn, L, Hin, N, Hout):  # empty output, or an empty (zero) sum
        return xp.zeros((Bn, L, Hout), dtype=rdt)
    return SSM_SPEC.get(name, "ssm_forward")(xp, *_canonical(xp, dtype, x, K, B_bar, C),
                                             strategy=strategy)


def ssm_conv_vjp(dy, x, K, B_bar, C, *, strategy="auto", impl="auto", check_finite=True):
    """VJP of :func:`ssm_conv`: ``SSMConvGrads(dx, dK, dB_bar, dC)``, PyTorch complex convention.

    Parameters
    ----------
    dy : real array, shape (batch, L, H_out)
        Cotangent of ``y`` (complex ``dy`` raises ``TypeError``; ``y`` is real).
    x, K, B_bar, C, strategy, impl, check_finite
        As for :func:`ssm_conv`. ``strategy`` is validated but does not change the result.

    Returns
    -------
    SSMConvGrads
        ``(dx, dK, dB_bar, dC)`` with shapes (batch, L, H_in), (N, L), (N, H_in), (H_out, N);
        ``dx`` is real, the others are complex when their input is complex (real part for a
        real input), at the computation's precision.

    Notes
    -----
    One formula serves every strategy (they compute the same function): correlations in
    frequency of the cotangent with the forward's intermediate spectra. A non-finite ``dy``
    spreads over all times of its batch row, as in the forward.

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
    args = {"x": x, "K": K, "B_bar": B_bar, "C": C}
    xp = SSM_SPEC.validate({"dy": dy, **args}, options={"strategy": strategy},
                           check_finite=check_finite, extra=_COTANGENT)
    sizes, dtype = _shapes(xp, x, K, B_bar, C, dy)
    name = SSM_SPEC.resolve(impl, xp, dtype)
    if 0 in sizes:
        zeros = (xp.zeros(tuple(a.shape), dtype=dtype) for a in args.values())
        return SSMConvGrads(*(grad_like(xp, g, a) for g, a in zip(zeros, args.values())))
    canon = _canonical(xp, dtype, x, K, B_bar, C)
    g = SSM_SPEC.get(name, "ssm_backward")(
        xp, cast(xp, dy, _checks.real_dtype_of(xp, dtype)), *canon)
    return SSMConvGrads(*(grad_like(xp, gi, a) for gi, a in zip(g, args.values())))


#: lrnnx's name for :func:`ssm_conv`.
opt_ssm_forward = ssm_conv
