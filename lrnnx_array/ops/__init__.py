"""Differentiable ops: each ``op`` has an ``op_vjp`` (and ``op_step`` where lrnnx has one)."""

from .diag_scan import DiagScanGrads, diag_scan, diag_scan_vjp
from .cauchy import CauchyGrads, cauchy, cauchy_vjp
from .power import power
from .vandermonde import (
    LogVandermondeGrads,
    LogVandermondeTransposeGrads,
    log_vandermonde,
    log_vandermonde_transpose,
    log_vandermonde_transpose_vjp,
    log_vandermonde_vjp,
)
from .discretize import DISCRETIZE_FNS, DiscretizeGrads, discretize, discretize_vjp

__all__ = [
    "diag_scan", "diag_scan_vjp", "DiagScanGrads",
    "discretize", "discretize_vjp", "DiscretizeGrads", "DISCRETIZE_FNS",
    "cauchy", "cauchy_vjp", "CauchyGrads",
    "log_vandermonde", "log_vandermonde_vjp", "LogVandermondeGrads",
    "log_vandermonde_transpose", "log_vandermonde_transpose_vjp", "LogVandermondeTransposeGrads",
    "power",
]
