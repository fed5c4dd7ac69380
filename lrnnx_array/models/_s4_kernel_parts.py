"""Pieces of the S4 kernel modules (``models.s4_kernel_interface``): the parameter transforms,
complex views, n_ssm tiling, the alias window onto the owner's parameters, the rate check."""

from __future__ import annotations

import math
from collections.abc import MutableMapping

import numpy as np

from ..layers.activations import sigmoid, softplus

_TRANSFORMS = ("none", "exp", "relu", "sigmoid", "softplus")


def param_transform(xp, p, transform: str):
    """The positive quantity a stored parameter stands for (lrnnx ``param_transform``)."""
    if transform == "none":
        return p
    if transform == "exp":
        return xp.exp(p)
    if transform == "relu":
        return xp.maximum(p, xp.zeros_like(p)) + 1e-4
    if transform == "sigmoid":
        return sigmoid(p, xp)
    if transform == "softplus":
        return softplus(p, xp)
    raise ValueError(f"transform must be one of {_TRANSFORMS}, got {transform!r}")


def _as_complex(xp, v, cdt, is_view: bool):
    """A complex array from a (..., 2) real view, or from a plain real array."""
    if is_view:
        return xp.astype(v[..., 0], cdt) + xp.astype(v[..., 1], cdt) * 1j
    return xp.astype(v, cdt)


def _tile0(xp, a, reps: int, axis: int):
    """lrnnx's ``repeat('t n -> (v t) n')``: the n_ssm copies tiled ``reps`` times."""
    return a if reps == 1 else xp.concat([a] * reps, axis=axis)


class _AliasParams(MutableMapping):
    """The kernel's parameter dict: a window onto the owner's, in lrnnx's alias key order."""

    def __init__(self, target: dict, names):
        self._target = target
        self._names = tuple(names)

    def __getitem__(self, key):
        if key not in self._names:
            raise KeyError(key)
        return self._target[key]

    def __setitem__(self, key, value):
        if key not in self._names:
            raise KeyError(f"{key!r} is not one of the aliased parameters {self._names}")
        self._target[key] = value

    def __delitem__(self, key):  # pragma: no cover - never needed
        raise TypeError("aliased parameters cannot be deleted")

    def __iter__(self):
        return (n for n in self._names if n in self._target)

    def __len__(self):
        return sum(1 for _ in self)


def _check_rate(rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise TypeError(f"rate must be a positive number, got {type(rate).__name__}")
    rate = float(rate)
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be positive and finite, got {rate}")
    return rate
