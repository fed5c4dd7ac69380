"""Elementwise activations on any array-API namespace, and lrnnx's activation names.

GELU is the exact (erf) form, lrnnx's default: ``gelu(x) = x/2 * erfc(-x/sqrt 2)`` (the same
function as ``x/2 * (1 + erf(x/sqrt 2))``, written with ``erfc`` so that it keeps its relative
accuracy for large negative ``x``). The array API has no erf, so :func:`erfc` takes SciPy's for
NumPy, ``cupyx.scipy.special``'s for CuPy and ``torch.special``'s for torch (each imported only
when used), and for any other namespace (e.g. array_api_strict) evaluates it with array-API
operations only:

* ``|t| <= 1.5``: ``erf(t) = 2/sqrt(pi) e^{-t^2} sum_n 2^n t^{2n+1} / (2n+1)!!`` -- every term is
  positive, so there is no cancellation (unlike the alternating Maclaurin series); 40 terms
  reach the float64 unit roundoff at ``t = 1.5``, and ``erfc = 1 - erf >= 0.033`` there.
* ``|t| > 1.5``: the continued fraction ``erfc(t) = e^{-t^2}/sqrt(pi) / (t + (1/2)/(t + 1/(t +
  (3/2)/(t + ...))))`` evaluated bottom-up from depth 100: relative error below 1e-15 for
  every ``t >= 1.5`` (measured against SciPy in tests/layers), so the tail keeps its relative
  accuracy.

On NumPy float32/float64 arrays, when numba imports, :func:`erfc` and :func:`gelu` run a
compiled, vectorised kernel instead (``_gelu_numba``: SciPy's erfc is a scalar call per
element, about half of an S4 forward): erfc within 1 ulp (float32) / 4 ulp (float64) of the
correctly rounded value, relative accuracy kept for large negative ``x``, parallel over
elements on large arrays. numba is imported at the first such call, never by ``import
lrnnx_array``; ``LRNNX_NO_NUMBA=1`` keeps the SciPy path.
"""

from __future__ import annotations

import math

from .. import _backend
from ..models._base import Module
from . import _gelu_numba  # (imports numba only when a kernel first runs)
from ._common import check_input

_SERIES_TERMS = 40
_CF_DEPTH = 100
_SWITCH = 1.5


def _erfc_array_api(xp, x):
    """erfc from array-API operations only (see the module docstring for the method)."""
    a = xp.abs(x)
    # Series part on min(a, switch): erf(a) for small a.
    s = xp.minimum(a, xp.asarray(_SWITCH, dtype=x.dtype))
    two_s2 = 2 * s * s
    term = s
    total = s
    for n in range(1, _SERIES_TERMS):
        term = term * two_s2 / (2 * n + 1)
        total = total + term
    erf_small = (2 / math.sqrt(math.pi)) * xp.exp(-s * s) * total
    # Continued fraction on max(a, switch): erfc(a) for large a.
    b = xp.maximum(a, xp.asarray(_SWITCH, dtype=x.dtype))
    t = b
    for k in range(_CF_DEPTH, 0, -1):
        t = b + (k / 2) / t
    erfc_large = xp.exp(-b * b) / (math.sqrt(math.pi) * t)
    erfc_abs = xp.where(a <= _SWITCH, 1 - erf_small, erfc_large)
    # erfc(-a) = 2 - erfc(a)
    return xp.where(x >= 0, erfc_abs, 2 - erfc_abs)


def erfc(x, xp=None):
    """Complementary error function of a real floating array, elementwise.

    Parameters
    ----------
    x : array
        Real floating input (float32 or float64).
    xp : namespace, optional
        The array namespace of ``x`` (derived from ``x`` when omitted).

    Returns
    -------
    array
        ``erfc(x)``, same shape and dtype as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import erfc
    >>> float(erfc(np.asarray([0.0]))[0])
    1.0
    """
    xp = _backend.namespace(x, names=["x"]) if xp is None else xp
    if _backend.is_numpy(xp):
        if _gelu_numba.eligible(x):
            return _gelu_numba.apply("erfc", x)
        import scipy.special

        return scipy.special.erfc(x)
    if _backend.is_cupy(xp):
        import cupyx.scipy.special

        return cupyx.scipy.special.erfc(x)
    if _backend.is_torch(xp):
        import torch

        return torch.special.erfc(x)
    return _erfc_array_api(xp, x)


def erf(x, xp=None):
    """Error function, ``1 - erfc(x)`` (see :func:`erfc`).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import erf
    >>> round(float(erf(np.asarray([1.0]))[0]), 6)
    0.842701
    """
    return 1 - erfc(x, xp)


def gelu(x, xp=None):
    """Exact GELU, ``x * Phi(x) = x/2 * erfc(-x / sqrt 2)`` (torch's ``approximate='none'``).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import gelu
    >>> np.round(gelu(np.asarray([-1.0, 0.0, 1.0])), 6).tolist()
    [-0.158655, 0.0, 0.841345]
    """
    xp = _backend.namespace(x, names=["x"]) if xp is None else xp
    if _backend.is_numpy(xp) and _gelu_numba.eligible(x):
        return _gelu_numba.apply("gelu", x)
    return 0.5 * x * erfc(-x * (1 / math.sqrt(2)), xp)


def sigmoid(x, xp=None):
    """Logistic sigmoid, overflow-free: ``exp`` is only taken of ``-|x|``."""
    xp = _backend.namespace(x, names=["x"]) if xp is None else xp
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def silu(x, xp=None):
    """SiLU / swish, ``x * sigmoid(x)``."""
    return x * sigmoid(x, xp)


def softplus(x, xp=None):
    """``log(1 + e^x)`` as ``max(x, 0) + log1p(e^{-|x|})`` (no overflow, no cancellation)."""
    xp = _backend.namespace(x, names=["x"]) if xp is None else xp
    return xp.maximum(x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


def relu(x, xp=None):
    xp = _backend.namespace(x, names=["x"]) if xp is None else xp
    return xp.maximum(x, xp.zeros_like(x))


def glu(x, axis: int = -1, xp=None):
    """Gated linear unit: split ``x`` in halves ``a, b`` along ``axis``; ``a * sigmoid(b)``."""
    xp = _backend.namespace(x, names=["x"]) if xp is None else xp
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"glu: x must have an even size along axis {axis}, got shape "
                         f"{tuple(x.shape)}")
    ax = axis % x.ndim
    idx_a = tuple(slice(0, n // 2) if i == ax else slice(None) for i in range(x.ndim))
    idx_b = tuple(slice(n // 2, n) if i == ax else slice(None) for i in range(x.ndim))
    return x[idx_a] * sigmoid(x[idx_b], xp)


def _identity(x, xp=None):
    return x


def _tanh(x, xp=None):
    xp = _backend.namespace(x, names=["x"]) if xp is None else xp
    return xp.tanh(x)


# lrnnx's names (its S4 ``Activation``): None/'id'/'identity'/'linear' are the identity.
_ACTIVATIONS = {
    "id": _identity,
    "identity": _identity,
    "linear": _identity,
    "gelu": gelu,
    "silu": silu,
    "swish": silu,
    "relu": relu,
    "tanh": _tanh,
    "sigmoid": sigmoid,
    "softplus": softplus,
    "glu": glu,
}

ACTIVATION_NAMES = tuple(sorted(_ACTIVATIONS))


class Activation(Module):
    """An activation by name, as a parameter-free module (``dim`` is GLU's split axis).

    Parameters
    ----------
    name : str or None
        One of :data:`ACTIVATION_NAMES`, or None for the identity.
    dim : int, optional
        Axis GLU splits (default -1); ignored by the other activations.
    xp, device : optional
        Namespace and device of the inputs (as every :class:`Module`).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import Activation
    >>> Activation("glu")(np.ones((2, 4))).shape
    (2, 2)
    """

    def __init__(self, name="gelu", dim: int = -1, *, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"activation name must be a str or None, got {type(name).__name__}")
        key = "id" if name is None else name.lower()
        if key not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATION_NAMES} or None, got {name!r}")
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"dim must be an int, got {type(dim).__name__}")
        self.name = key
        self.dim = dim
        self._fn = _ACTIVATIONS[key]

    def forward(self, x):
        x = check_input(self, "x", x)
        if self.name == "glu":
            return glu(x, self.dim, self.xp)
        return self._fn(x, self.xp)


def get_activation(name, dim: int = -1, *, xp=None, device=None) -> Activation:
    """The :class:`Activation` module for lrnnx's activation ``name`` (None -> identity).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.layers import get_activation
    >>> float(get_activation("silu")(np.asarray([0.0]))[0])
    0.0
    """
    return Activation(name, dim, xp=xp, device=device)
