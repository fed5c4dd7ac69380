"""S7 scan (input-dependent stable decay Ā = 1 − 1/(a² + ½)), spec §3.5."""

from ._api import S7ScanGrads, s7_scan, s7_scan_vjp

__all__ = ["s7_scan", "s7_scan_vjp", "S7ScanGrads"]
