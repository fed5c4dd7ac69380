"""Log-Vandermonde products 2 Re sum_n v_n e^{x_n l} and their transpose (S4D kernels)."""

from ._api import (
    LogVandermondeGrads,
    LogVandermondeTransposeGrads,
    log_vandermonde,
    log_vandermonde_transpose,
    log_vandermonde_transpose_vjp,
    log_vandermonde_vjp,
)

__all__ = [
    "log_vandermonde", "log_vandermonde_vjp", "LogVandermondeGrads",
    "log_vandermonde_transpose", "log_vandermonde_transpose_vjp", "LogVandermondeTransposeGrads",
]
