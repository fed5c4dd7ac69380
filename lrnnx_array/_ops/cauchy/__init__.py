"""Symmetric Cauchy product sum_n v/(z - w) + conj(v)/(z - conj(w)) (S4's DPLR kernel)."""

from ._api import CauchyGrads, cauchy, cauchy_vjp

__all__ = ["cauchy", "cauchy_vjp", "CauchyGrads"]
