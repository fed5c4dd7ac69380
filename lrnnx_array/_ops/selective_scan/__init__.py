"""Selective scan (S6 / Mamba) with lrnnx's six discretizations, complex A, groups and its VJP."""

from ._api import SelectiveScanGrads, selective_scan, selective_scan_vjp

__all__ = ["selective_scan", "selective_scan_vjp", "SelectiveScanGrads"]
