r"""Every discretization lrnnx uses (mirrors ``lrnnx.core.discretization``).

``method(A, delta, integration_timesteps=None) -> (A_bar, gamma_bar)`` turns a diagonal
continuous-time system into :math:`h_t = \bar A h_{t-1} + \bar\gamma (B u_t)`; ``method_vjp``
is its vector-Jacobian product and :func:`discretize` / :func:`discretize_vjp` take the method by
name. Shared conventions:

* ``A`` (real or complex; real only for ``s7`` and ``rglru``) and the real step ``delta``
  broadcast together: per state (N,), per channel (D, 1), or per (batch, time) with the caller's
  axes, e.g. ``delta`` (B, D, L, 1) against ``A`` (D, 1, N).
* ``integration_timesteps`` (tau) is used by ``async_`` only; the others ignore it (as lrnnx's
  core does) and give it a zero gradient.
* Both outputs are fresh arrays of the broadcast shape and the promoted dtype (float16 computes
  in float32), never the Python float lrnnx returns for a constant ``gamma_bar``.
* ``impl`` is ``"auto"``, ``"generic"`` (the array-API path, also on CuPy) or ``"reference"``
  (the NumPy float64 oracle); there is no CUDA kernel, so ``"cuda"`` raises.
* ``check_finite=True`` rejects NaN/inf in ``A``, ``delta``, ``integration_timesteps`` (and
  rglru's domain); it reads values (a device sync on GPU); pass False once they are known good.
* VJPs take ``dout = (dA_bar, dgamma_bar)`` (either may be None) and return
  :class:`DiscretizeGrads` with the inputs' shapes (broadcast axes summed), PyTorch's complex
  convention (real inputs get the real part).

The VJPs live in ``lrnnx_array._discretization_vjps`` and the shared validate-resolve-call core
in ``lrnnx_array._discretization_core``; both are re-exported here, the one public path.

The formulas are those of the numerics layer (``lrnnx_array._ops._shared.numerics``): zoh's
:math:`(e^{x}-1)/x` with a cancellation-free complex expm1, rglru's
:math:`\sqrt{-\operatorname{expm1}(2\Delta\log A)}`, so small steps keep every digit.
"""

from __future__ import annotations

from ._discretization_core import DiscretizeGrads, _backward, _forward
from ._discretization_vjps import (
    async_vjp,
    bilinear_vjp,
    dirac_vjp,
    mamba_vjp,
    no_discretization_vjp,
    rglru_vjp,
    s7_vjp,
    zoh_vjp,
)
from ._ops.discretization._api import METHODS, canonical

# The public home of the result type (repr, pickling, docs), wherever it is defined.
DiscretizeGrads.__module__ = __name__

__all__ = [
    "discretize", "discretize_vjp", "DiscretizeGrads", "METHODS",
    "zoh", "zoh_vjp", "bilinear", "bilinear_vjp", "dirac", "dirac_vjp", "mamba", "mamba_vjp",
    "async_", "async_vjp", "no_discretization", "no_discretization_vjp", "s7", "s7_vjp",
    "rglru", "rglru_vjp",
]


# ---- by name ------------------------------------------------------------------------------------


def discretize(A, delta, method, integration_timesteps=None, *, impl="auto", check_finite=True):
    """Discretize with the named method.

    Parameters
    ----------
    A : array
        Diagonal continuous-time state matrix (real or complex; real for ``s7``/``rglru``).
    delta : array, real
        Time step, broadcast against ``A``.
    method : str
        One of ``METHODS`` (``"zoh", "bilinear", "dirac", "mamba", "async",
        "no_discretization", "s7", "rglru"``); ``"async_"`` is accepted for ``"async"``.
    integration_timesteps : array, real, optional
        Event time step (``async`` only; ignored otherwise).
    impl : {"auto", "generic", "reference"}
        See the module docstring; ``"cuda"`` raises (no kernel).
    check_finite : bool, default True
        Reject NaN/inf parameters (reads values; see the module docstring).

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta)
        See the per-method functions for the formulas.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import discretize
    >>> discretize(np.array([-1.0]), np.array([0.5]), "bilinear")
    (array([0.6]), array([0.4]))
    """
    return _forward(canonical(method), A, delta, integration_timesteps, impl, check_finite)


def discretize_vjp(dout, A, delta, method, integration_timesteps=None, *, impl="auto",
                   check_finite=True):
    r"""Vector-Jacobian product of :func:`discretize`.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs, each broadcastable to the output shape (real or
        complex); either may be None (zero).
    A, delta, method, integration_timesteps, impl, check_finite
        As for :func:`discretize`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` shaped like the inputs (broadcast axes summed);
        ``dintegration_timesteps`` is None when omitted and zero outside ``async``.

    Examples
    --------
    For zoh, :math:`\bar A = e^{\Delta A}`: with ``dout = (ones, None)`` the gradients are
    :math:`\Delta e^{\Delta A}` and :math:`\sum_n A e^{\Delta A}` (over the broadcast axis):

    >>> import numpy as np
    >>> from lrnnx_array.discretization import discretize_vjp
    >>> rng = np.random.default_rng(0)
    >>> A, dt = -rng.uniform(0.5, 2, (2, 3)), rng.uniform(0.1, 1, (2, 1))
    >>> g = discretize_vjp((np.ones((2, 3)), None), A, dt, "zoh")
    >>> g.dA.shape, g.ddelta.shape, g.dintegration_timesteps is None
    ((2, 3), (2, 1), True)
    >>> np.allclose(g.dA, dt * np.exp(dt * A))
    True
    >>> np.allclose(g.ddelta, np.sum(A * np.exp(dt * A), axis=1, keepdims=True))
    True
    """
    return _backward(canonical(method), dout, A, delta, integration_timesteps, impl,
                     check_finite)


# ---- the eight methods -----------------------------------------------------------------------


def zoh(A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Zero-order hold: :math:`\bar A = e^{\Delta A}`, :math:`\bar\gamma = (e^{\Delta A}-1)/A`.

    Parameters
    ----------
    A, delta, integration_timesteps, impl, check_finite
        See the module docstring (``integration_timesteps`` is ignored).

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta)

    Notes
    -----
    :math:`\bar\gamma = \Delta\,\operatorname{expm1}(x)/x` with :math:`x = \Delta A` (limit
    :math:`\Delta` at :math:`x = 0`, so ``A = 0`` is fine), accurate for :math:`|x|` down to
    1e-300, complex included. Agrees with ``scipy.signal.cont2discrete(method='zoh')``:
    :math:`B_d = \bar\gamma B`.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import zoh
    >>> zoh(np.array([-1.0, 0.0]), np.array([0.5, 0.5]))
    (array([0.60653066, 1.        ]), array([0.39346934, 0.5       ]))
    """
    return _forward("zoh", A, delta, integration_timesteps, impl, check_finite)


def bilinear(A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Bilinear (Tustin): :math:`\bar A = \frac{1+\Delta A/2}{1-\Delta A/2}`,
    :math:`\bar\gamma = \frac{\Delta}{1-\Delta A/2}`.

    Parameters
    ----------
    A, delta, integration_timesteps, impl, check_finite
        See the module docstring (``integration_timesteps`` is ignored).

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta)

    Notes
    -----
    The form every lrnnx kernel uses; lrnnx's ``core.discretization.bilinear`` returns the
    inverted pair (unstable for Re A < 0). Agrees with ``scipy.signal.cont2discrete
    (method='bilinear')``: :math:`B_d = (1-\Delta A/2)^{-1}\Delta B = \bar\gamma B`.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import bilinear
    >>> bilinear(np.array([-1.0]), np.array([0.5]))
    (array([0.6]), array([0.4]))
    """
    return _forward("bilinear", A, delta, integration_timesteps, impl, check_finite)


def dirac(A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Dirac input: :math:`\bar A = e^{\Delta A}`, :math:`\bar\gamma = 1` (impulses unscaled).

    Parameters
    ----------
    A, delta, integration_timesteps, impl, check_finite
        See the module docstring (``integration_timesteps`` is ignored).

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta)
        ``gamma_bar`` is an array of ones (lrnnx's core returns the float 1.0).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import dirac
    >>> dirac(np.array([-1.0]), np.array([0.5]))
    (array([0.60653066]), array([1.]))
    """
    return _forward("dirac", A, delta, integration_timesteps, impl, check_finite)


def mamba(A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Mamba's: :math:`\bar A = e^{\Delta A}`, :math:`\bar\gamma = \Delta` (Euler input step).

    Parameters
    ----------
    A, delta, integration_timesteps, impl, check_finite
        See the module docstring (``integration_timesteps`` is ignored).

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta)

    Notes
    -----
    Not in lrnnx's ``core.discretization`` (only its selective scan has it).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import mamba
    >>> mamba(np.array([-1.0]), np.array([0.5]))
    (array([0.60653066]), array([0.5]))
    """
    return _forward("mamba", A, delta, integration_timesteps, impl, check_finite)


def async_(A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""Asynchronous / event-based (Event-SSM, STREAM): :math:`\bar A = e^{\Delta\tau A}`,
    :math:`\bar\gamma = (e^{\Delta A}-1)/A`.

    Parameters
    ----------
    A, delta, impl, check_finite
        See the module docstring.
    integration_timesteps : array, real
        Required: tau, multiplying the A time step; broadcast with ``A`` and ``delta``.

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta, integration_timesteps)

    Notes
    -----
    Only the A path uses :math:`\Delta\tau`; the input path is zoh's with :math:`\Delta`, as in
    every lrnnx scan and lrnnx's docstring (lrnnx's core code computes
    :math:`(\bar A - 1)/A`, which includes tau: spec §9.2).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import async_
    >>> async_(np.array([-1.0]), np.array([0.5]), np.array([2.0]))
    (array([0.36787944]), array([0.39346934]))
    """
    return _forward("async", A, delta, integration_timesteps, impl, check_finite)


def no_discretization(A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""No discretization (A is already discrete): :math:`\bar A = A`, :math:`\bar\gamma = 1`.

    Parameters
    ----------
    A, delta, integration_timesteps, impl, check_finite
        See the module docstring (``delta`` only broadcasts; its gradient is zero).

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta)
        Fresh arrays (lrnnx's core returns ``(A, 1.0)``).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import no_discretization
    >>> no_discretization(np.array([0.9]), np.array([0.5]))
    (array([0.9]), array([1.]))
    """
    return _forward("no_discretization", A, delta, integration_timesteps, impl, check_finite)


def s7(A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""S7's input-dependent transition: :math:`\bar A = 1 - 1/(a_t^2 + 1/2)`,
    :math:`\bar\gamma = 1`, with the time-varying :math:`a_t` in the ``delta`` slot.

    Parameters
    ----------
    A : array, real
        Contributes only its shape and dtype (lrnnx's kernel has no dA either).
    delta : array, real
        :math:`a_t`.
    integration_timesteps, impl, check_finite
        See the module docstring (``integration_timesteps`` is ignored).

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta)

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import s7
    >>> s7(np.zeros(1), np.array([1.5]))
    (array([0.63636364]), array([1.]))
    """
    return _forward("s7", A, delta, integration_timesteps, impl, check_finite)


def rglru(A, delta, integration_timesteps=None, *, impl="auto", check_finite=True):
    r"""RG-LRU gate: :math:`\bar A = A^{\Delta} = e^{\Delta\log A}`,
    :math:`\bar\gamma = \sqrt{1-\bar A^2}` (input term :math:`\bar\gamma u`, no B).

    Parameters
    ----------
    A : array, real, in (0, 1]
    delta : array, real, >= 0
        :math:`c\,r_t` in Griffin.
    integration_timesteps, impl, check_finite
        See the module docstring (``integration_timesteps`` is ignored). The domain of ``A``
        and ``delta`` is checked with the finiteness (it reads values).

    Returns
    -------
    A_bar, gamma_bar : arrays, shape broadcast(A, delta)

    Notes
    -----
    :math:`1-\bar A^2 = -\operatorname{expm1}(2\Delta\log A)`, accurate when :math:`\bar A` is
    close to 1. Where :math:`\bar\gamma = 0` its infinite derivative is set to 0, as in lrnnx's
    kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.discretization import rglru
    >>> rglru(np.array([0.25]), np.array([0.5]))
    (array([0.5]), array([0.8660254]))
    """
    return _forward("rglru", A, delta, integration_timesteps, impl, check_finite)
