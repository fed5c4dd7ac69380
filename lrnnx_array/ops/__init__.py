"""Differentiable ops: each ``op`` has an ``op_vjp`` (and ``op_step`` where lrnnx has one)."""

from .diag_scan import DiagScanGrads, diag_scan, diag_scan_vjp
from .discretize import DISCRETIZE_FNS, DiscretizeGrads, discretize, discretize_vjp

__all__ = [
    "diag_scan", "diag_scan_vjp", "DiagScanGrads",
    "discretize", "discretize_vjp", "DiscretizeGrads", "DISCRETIZE_FNS",
]
