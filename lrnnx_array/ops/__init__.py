"""Differentiable ops: each ``op`` has an ``op_vjp`` (and ``op_step`` where lrnnx has one)."""

from .diag_scan import DiagScanGrads, diag_scan, diag_scan_vjp

__all__ = ["diag_scan", "diag_scan_vjp", "DiagScanGrads"]
