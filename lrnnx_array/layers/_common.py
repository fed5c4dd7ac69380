"""Shared checks for the layers: input arrays and parameter dtypes, named in every error."""

from __future__ import annotations

import array_api_compat
import numpy as np

from .._backend import _lib_name


def param_dtype(xp, dtype, name: str = "dtype"):
    """The floating dtype of ``xp`` that ``dtype`` names (None -> float32, float16 -> float32).

    Accepts ``xp`` dtypes, NumPy dtypes and names such as ``"float64"``; complex and integer
    dtypes raise ``TypeError`` (the layers hold real parameters).
    """
    if dtype is None:
        return xp.float32
    for cand in (xp.float32, xp.float64):
        # same-type comparison only: array_api_strict warns on comparing with NumPy dtypes
        if dtype is cand or (type(dtype) is type(cand) and dtype == cand):
            return cand
    try:
        np_name = np.dtype(str(dtype).split(".")[-1]).name
    except TypeError as exc:
        raise TypeError(f"{name} must name a floating dtype, got {dtype!r}") from exc
    if np_name == "float16":
        return xp.float32  # half precision computes in float32 (project rule)
    if np_name not in ("float32", "float64"):
        raise TypeError(f"{name} must be float32 or float64, got {np_name}")
    return getattr(xp, np_name)


def check_input(module, name: str, x, *, min_ndim: int = 1, last_dim: int | None = None,
                allow_complex: bool = False):
    """Validate a forward input of ``module`` and return it (float16 cast to float32).

    Raises ``TypeError`` for None, non-arrays, arrays of another library and integer/bool
    dtypes; ``ValueError`` for a wrong device, too few dimensions or a wrong last dimension.
    """
    owner = type(module).__name__
    if x is None:
        raise TypeError(f"{owner}: {name} must be an array, got None")
    if isinstance(x, (bool, int, float, complex, list, tuple)):
        raise TypeError(
            f"{owner}: {name} must be an array, got {type(x).__name__}; wrap it with xp.asarray"
        )
    try:
        ns = array_api_compat.array_namespace(x)
    except TypeError as exc:
        raise TypeError(f"{owner}: {name} must be an array, got {type(x).__name__}") from exc
    xp = module.xp
    if ns is not xp and _lib_name(ns) != _lib_name(xp):
        raise TypeError(
            f"{owner}: {name} is a {_lib_name(ns)} array but the module's parameters are "
            f"{_lib_name(xp)} arrays; move one with .to(xp) or xp.asarray"
        )
    if module.device is not None and str(array_api_compat.device(x)) != str(module.device):
        raise ValueError(
            f"{owner}: {name} is on device {array_api_compat.device(x)}, expected {module.device}"
        )
    dt = x.dtype
    if xp.isdtype(dt, "complex floating"):
        if not allow_complex:
            raise TypeError(f"{owner}: {name} must be real floating, got dtype {dt}")
    elif not xp.isdtype(dt, "real floating"):
        raise TypeError(f"{owner}: {name} must have a floating dtype, got dtype {dt}")
    elif getattr(xp, "float16", None) is not None and dt == xp.float16:
        x = xp.astype(x, xp.float32)
    if x.ndim < min_ndim:
        raise ValueError(
            f"{owner}: {name} must have at least {min_ndim} dimension(s), got shape "
            f"{tuple(x.shape)}"
        )
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(
            f"{owner}: {name} must have last dimension {last_dim}, got shape {tuple(x.shape)}"
        )
    return x


def check_probability(name: str, p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(p).__name__}")
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p}")
    return p


def check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_eps(name: str, eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {type(eps).__name__}")
    eps = float(eps)
    if not (eps > 0 and np.isfinite(eps)):
        raise ValueError(f"{name} must be positive and finite, got {eps}")
    return eps


def host_rng(seed):
    """A NumPy Generator from ``seed`` (None, int or Generator); nothing global is touched."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(
            f"seed must be an int, a numpy Generator or None, got {type(seed).__name__}")
    return np.random.default_rng(seed)
