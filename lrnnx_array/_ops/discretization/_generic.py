"""The array-API implementation of the discretizations is the shared numerics layer itself."""

from .._shared.numerics import FORMULAS, expm1, forward, vjp_full

__all__ = ["FORMULAS", "expm1", "forward", "vjp_full"]
