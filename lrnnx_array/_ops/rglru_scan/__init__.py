"""RG-LRU scan (Griffin's real-gated linear recurrent unit), spec §3.4."""

from ._api import RGLRUScanGrads, rglru_scan, rglru_scan_vjp

__all__ = ["rglru_scan", "rglru_scan_vjp", "RGLRUScanGrads"]
