"""power(L, A, v=None): A^L by repeated squaring and sum_i A^i v_i by pairwise halving."""

from ._api import PowerGrads, power, power_vjp

__all__ = ["power", "power_vjp", "PowerGrads"]
