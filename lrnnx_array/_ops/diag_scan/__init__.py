"""Diagonal linear recurrence h_t = a_t * h_{t-1} + b_t (the scan every LRNN reduces to)."""

from ._api import DiagScanGrads, diag_scan, diag_scan_vjp

__all__ = ["diag_scan", "diag_scan_vjp", "DiagScanGrads"]
