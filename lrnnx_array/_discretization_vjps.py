"""The VJPs of the eight discretizations (public as ``lrnnx_array.discretization.<method>_vjp``;
the forwards, the conventions and :func:`~lrnnx_array.discretization.discretize_vjp` are in
``lrnnx_array.discretization``)."""

from __future__ import annotations

from ._discretization_core import _backward

__all__ = ["zoh_vjp", "bilinear_vjp", "dirac_vjp", "mamba_vjp", "async_vjp",
           "no_discretization_vjp", "s7_vjp", "rglru_vjp"]


def zoh_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`zoh`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs; either may be None (zero).
    A, delta, integration_timesteps, impl, check_finite
        As for :func:`zoh`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs.

    Examples
    --------
    :math:`\partial\bar\gamma/\partial\Delta = e^{\Delta A}`:

    >>> import numpy as np
    >>> from lrnnx_array.discretization import zoh_vjp
    >>> zoh_vjp((None, np.ones(1)), np.array([-1.0]), np.array([0.5])).ddelta
    array([0.60653066])
    """
    return _backward("zoh", dout, A, delta, integration_timesteps, impl, check_finite)


def bilinear_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`bilinear`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs; either may be None (zero).
    A, delta, integration_timesteps, impl, check_finite
        As for :func:`bilinear`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs.

    Examples
    --------
    :math:`\partial\bar\gamma/\partial\Delta = (1-\Delta A/2)^{-2}`:

    >>> import numpy as np
    >>> from lrnnx_array.discretization import bilinear_vjp
    >>> bilinear_vjp((None, np.ones(1)), np.array([-1.0]), np.array([0.5])).ddelta
    array([0.64])
    """
    return _backward("bilinear", dout, A, delta, integration_timesteps, impl, check_finite)


def dirac_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`dirac`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs; either may be None (zero).
    A, delta, integration_timesteps, impl, check_finite
        As for :func:`dirac`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs.

    Examples
    --------
    :math:`\partial\bar A/\partial A = \Delta e^{\Delta A}`:

    >>> import numpy as np
    >>> from lrnnx_array.discretization import dirac_vjp
    >>> dirac_vjp((np.ones(1), None), np.array([-1.0]), np.array([0.5])).dA
    array([0.30326533])
    """
    return _backward("dirac", dout, A, delta, integration_timesteps, impl, check_finite)


def mamba_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`mamba`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs; either may be None (zero).
    A, delta, integration_timesteps, impl, check_finite
        As for :func:`mamba`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs.

    Examples
    --------
    :math:`\partial\bar\gamma/\partial\Delta = 1`:

    >>> import numpy as np
    >>> from lrnnx_array.discretization import mamba_vjp
    >>> mamba_vjp((None, np.ones(1)), np.array([-1.0]), np.array([0.5])).ddelta
    array([1.])
    """
    return _backward("mamba", dout, A, delta, integration_timesteps, impl, check_finite)


def async_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`async_`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs; either may be None (zero).
    A, delta, integration_timesteps, impl, check_finite
        As for :func:`async_`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs.

    Examples
    --------
    :math:`\partial\bar A/\partial\tau = \Delta A e^{\Delta\tau A}`:

    >>> import numpy as np
    >>> from lrnnx_array.discretization import async_vjp
    >>> g = async_vjp((np.ones(1), None), np.array([-1.0]), np.array([0.5]), np.array([2.0]))
    >>> g.dintegration_timesteps
    array([-0.18393972])
    """
    return _backward("async", dout, A, delta, integration_timesteps, impl, check_finite)


def no_discretization_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto",
                          check_finite=True):
    r"""Vector-Jacobian product of :func:`no_discretization`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs; either may be None (zero).
    A, delta, integration_timesteps, impl, check_finite
        As for :func:`no_discretization`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs.

    Examples
    --------
    :math:`\bar A = A`, so ``dA`` is the cotangent itself:

    >>> import numpy as np
    >>> from lrnnx_array.discretization import no_discretization_vjp
    >>> no_discretization_vjp((np.ones(1), None), np.array([0.9]), np.array([0.5])).dA
    array([1.])
    """
    return _backward("no_discretization", dout, A, delta, integration_timesteps, impl, check_finite)


def s7_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`s7`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs; either may be None (zero).
    A, delta, integration_timesteps, impl, check_finite
        As for :func:`s7`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs.

    Examples
    --------
    :math:`\partial\bar A/\partial a = 2a/(a^2+1/2)^2`:

    >>> import numpy as np
    >>> from lrnnx_array.discretization import s7_vjp
    >>> s7_vjp((np.ones(1), None), np.zeros(1), np.array([1.5])).ddelta
    array([0.39669421])
    """
    return _backward("s7", dout, A, delta, integration_timesteps, impl, check_finite)


def rglru_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`rglru`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs; either may be None (zero).
    A, delta, integration_timesteps, impl, check_finite
        As for :func:`rglru`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs.

    Examples
    --------
    :math:`\partial\bar A/\partial\Delta = \bar A\log A`:

    >>> import numpy as np
    >>> from lrnnx_array.discretization import rglru_vjp
    >>> rglru_vjp((np.ones(1), None), np.array([0.25]), np.array([0.5])).ddelta
    array([-0.69314718])
    """
    return _backward("rglru", dout, A, delta, integration_timesteps, impl, check_finite)
