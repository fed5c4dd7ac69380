"""The optional torch bridge: every op a ``torch.autograd.Function``, lrnnx's names.

Importing this package imports no torch; torch is imported when a tensor first reaches the
bridge (``pip install 'lrnnx_array[torch]'``).

* Any public op of :mod:`lrnnx_array.ops` called with torch tensors returns torch tensors with
  autograd: ``lrnnx_array.ops.diag_scan(a, b)`` runs the generated ``DiagScanFunction``, whose
  backward is :func:`lrnnx_array.ops.diag_scan_vjp`. CPU tensors run on NumPy views of their
  memory (``Tensor.numpy()`` / ``torch.from_numpy``: no copy), CUDA tensors on CuPy views
  (DLPack) with the CUDA kernels, on torch's current stream. Step ops (decode steps, S4
  set-ups) are converted but not differentiable: tensors that require grad raise outside
  ``torch.no_grad()``.
* A Function saves its inputs and its backward calls the op's VJP, which recomputes the forward
  it needs (no residuals: :mod:`lrnnx_array.torch._functions` says why and what it costs,
  ``python -m lrnnx_array.torch._bench`` measures it). Double backward raises.
* lrnnx's function names and argument orders (``selective_scan_fn``, ``s5_inner_fn``,
  ``cauchy_naive``, ...; :data:`LRNNX_NAMES`), so porting lrnnx code is an import change.
* The Function classes themselves: ``lrnnx_array.torch.SelectiveScanFunction`` etc.
  (:func:`function_class`), one per row of the bridge's table.

>>> import lrnnx_array.torch as bridge
>>> "selective_scan_fn" in bridge.__all__ and "DiagScanFunction" in bridge.__all__
True
"""

from __future__ import annotations

from ._lrnnx_names import (
    LRNNX_NAMES,
    cauchy_mult,
    cauchy_naive,
    causal_conv1d_fn,
    causal_conv1d_update,
    log_vandermonde_naive,
    log_vandermonde_transpose_naive,
    opt_ssm_forward,
    power,
    rglru_scan_fn,
    rglru_scan_ref,
    s5_inner_fn,
    s5_inner_ref,
    s7_scan_fn,
    s7_scan_ref,
    selective_scan_fn,
    selective_scan_ref,
    selective_state_update,
    selective_state_update_ref,
    simplified_scan_fn,
    simplified_scan_ref,
    simplified_state_update,
    simplified_state_update_ref,
)
from ._table import OPS as _OPS
from ._table import function_name as _function_name

_CLASSES = {_function_name(r.name): r.name for r in _OPS}


def function_class(op: str):
    """The ``torch.autograd.Function`` generated for public op ``op`` (imports torch).

    Parameters
    ----------
    op : str
        A differentiable op of :mod:`lrnnx_array.ops` (``"selective_scan"``, ...).

    Returns
    -------
    type
        A ``torch.autograd.Function`` subclass; the public op routes torch tensors to it.

    Examples
    --------
    >>> from lrnnx_array.torch import function_class
    >>> function_class("diag_scan").__name__  # doctest: +SKIP
    'DiagScanFunction'
    """
    from ._functions import function_class as build
    from ._table import OP_ROWS

    if op not in OP_ROWS:
        raise ValueError(f"op must be one of {sorted(OP_ROWS)}, got {op!r}")
    return build(op)


def __getattr__(name):
    # The Function classes need torch: built when first asked for, never at import.
    op = _CLASSES.get(name)
    if op is None:
        raise AttributeError(f"module 'lrnnx_array.torch' has no attribute {name!r}")
    return function_class(op)


__all__ = [
    "LRNNX_NAMES", "function_class",
    "selective_scan_fn", "selective_scan_ref", "simplified_scan_fn", "simplified_scan_ref",
    "s5_inner_fn", "s5_inner_ref", "rglru_scan_fn", "rglru_scan_ref", "s7_scan_fn", "s7_scan_ref",
    "selective_state_update", "selective_state_update_ref", "simplified_state_update",
    "simplified_state_update_ref", "cauchy_naive", "cauchy_mult", "log_vandermonde_naive",
    "log_vandermonde_transpose_naive", "power", "opt_ssm_forward", "causal_conv1d_fn",
    "causal_conv1d_update", *sorted(_CLASSES),
]
