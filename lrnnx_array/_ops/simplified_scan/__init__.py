"""S5's complex diagonal scan (``simplified_scan``) and its inner function (``s5_inner``)."""

from ._api import (
    S5InnerGrads,
    SimplifiedScanGrads,
    s5_inner,
    s5_inner_vjp,
    simplified_scan,
    simplified_scan_vjp,
)

__all__ = ["simplified_scan", "simplified_scan_vjp", "s5_inner", "s5_inner_vjp",
           "SimplifiedScanGrads", "S5InnerGrads"]
