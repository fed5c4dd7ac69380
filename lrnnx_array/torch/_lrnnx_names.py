"""lrnnx's function names and argument orders, on torch tensors (switch one import).

Each function takes lrnnx's arguments in lrnnx's order and calls the public op of
:mod:`lrnnx_array.ops`, which routes torch tensors through the bridge's autograd Functions.
Our keyword-only additions (``h0=``, ``impl=``, ``check_finite=``) pass through. The ``*_ref``
names run the float64 NumPy oracle (``impl="reference"``) for CPU tensors and the array-API
path for CUDA tensors.

>>> from lrnnx_array.torch import LRNNX_NAMES
>>> LRNNX_NAMES["selective_scan_fn"], LRNNX_NAMES["cauchy_naive"]
('selective_scan', 'cauchy')
"""

from __future__ import annotations

from .. import ops as _ops
from ._lrnnx_names_steps import (  # the state updates, kernels' primitives, convolutions
    _ref_impl,
    cauchy_mult,
    cauchy_naive,
    causal_conv1d_fn,
    causal_conv1d_update,
    log_vandermonde_naive,
    log_vandermonde_transpose_naive,
    opt_ssm_forward,
    power,
    selective_state_update,
    selective_state_update_ref,
    simplified_state_update,
    simplified_state_update_ref,
)

#: lrnnx name -> the public op of :mod:`lrnnx_array.ops` it calls.
LRNNX_NAMES = {
    "selective_scan_fn": "selective_scan",
    "selective_scan_ref": "selective_scan",
    "simplified_scan_fn": "simplified_scan",
    "simplified_scan_ref": "simplified_scan",
    "s5_inner_fn": "s5_inner",
    "s5_inner_ref": "s5_inner",
    "rglru_scan_fn": "rglru_scan",
    "rglru_scan_ref": "rglru_scan",
    "s7_scan_fn": "s7_scan",
    "s7_scan_ref": "s7_scan",
    "selective_state_update": "selective_state_update",
    "selective_state_update_ref": "selective_state_update",
    "simplified_state_update": "simplified_state_update",
    "simplified_state_update_ref": "simplified_state_update",
    "cauchy_naive": "cauchy",
    "cauchy_mult": "cauchy",
    "log_vandermonde_naive": "log_vandermonde",
    "log_vandermonde_transpose_naive": "log_vandermonde_transpose",
    "power": "power",
    "opt_ssm_forward": "opt_ssm_forward",
    "causal_conv1d_fn": "causal_conv1d",
    "causal_conv1d_update": "causal_conv1d_update",
}
__all__ = [  # this module's lrnnx names and the re-exported ones
    "LRNNX_NAMES", "selective_scan_fn", "selective_scan_ref", "simplified_scan_fn",
    "simplified_scan_ref", "s5_inner_fn", "s5_inner_ref", "rglru_scan_fn", "rglru_scan_ref",
    "s7_scan_fn", "s7_scan_ref", "selective_state_update", "selective_state_update_ref",
    "simplified_state_update", "simplified_state_update_ref", "cauchy_naive", "cauchy_mult",
    "log_vandermonde_naive", "log_vandermonde_transpose_naive", "power", "opt_ssm_forward",
    "causal_conv1d_fn", "causal_conv1d_update",
]


def selective_scan_fn(u, delta, A, B, C, D=None, z=None, delta_bias=None, deltaA=None,
                      delta_softplus=False, return_last_state=False, discretization="mamba",
                      **options):
    """lrnnx's ``selective_scan_fn``: ``deltaA`` comes after ``delta_bias``, as in lrnnx.

    Parameters
    ----------
    u, delta, A, B, C, D, z, delta_bias, deltaA, delta_softplus, return_last_state, discretization
        lrnnx's arguments in lrnnx's order (ours puts ``deltaA`` last).
    **options
        ``h0=``, ``impl=``, ``check_finite=`` of :func:`lrnnx_array.ops.selective_scan`.

    Returns
    -------
    out : tensor, shape (batch, dim, seqlen), or ``(out, last_state)`` with return_last_state.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import selective_scan_fn  # doctest: +SKIP
    >>> g = torch.Generator().manual_seed(0)  # doctest: +SKIP
    >>> u = torch.randn(1, 2, 5, dtype=torch.float64, generator=g,
    ...                 requires_grad=True)  # doctest: +SKIP
    >>> delta = torch.rand(1, 2, 5, dtype=torch.float64, generator=g)  # doctest: +SKIP
    >>> A = -torch.ones(2, 3, dtype=torch.float64)  # doctest: +SKIP
    >>> B = C = torch.ones(2, 3, dtype=torch.float64)  # doctest: +SKIP
    >>> out = selective_scan_fn(u, delta, A, B, C, None, None, None, None, True)  # doctest: +SKIP
    >>> out.sum().backward(); u.grad.shape  # doctest: +SKIP
    torch.Size([1, 2, 5])
    """
    return _ops.selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                               return_last_state, discretization, deltaA, **options)


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, deltaA=None,
                       delta_softplus=False, return_last_state=False, discretization="mamba",
                       **options):
    """lrnnx's ``selective_scan_ref``: :func:`selective_scan_fn` on the float64 oracle.

    Parameters
    ----------
    u, delta, A, B, C, D, z, delta_bias, deltaA, delta_softplus, return_last_state, discretization
        As for :func:`selective_scan_fn`.
    **options
        ``h0=``, ``check_finite=``.

    Returns
    -------
    out : tensor, or ``(out, last_state)``.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import selective_scan_fn, selective_scan_ref  # doctest: +SKIP
    >>> u = torch.ones(1, 1, 3, dtype=torch.float64)  # doctest: +SKIP
    >>> A = -torch.ones(1, 1, dtype=torch.float64)  # doctest: +SKIP
    >>> B = C = torch.ones(1, 1, dtype=torch.float64); d = torch.full_like(u, 0.5)  # doctest: +SKIP
    >>> torch.allclose(selective_scan_ref(u, d, A, B, C), selective_scan_fn(u, d, A, B, C))
    ... # doctest: +SKIP
    True
    """
    options.setdefault("impl", _ref_impl(u, delta, A, B, C))
    return selective_scan_fn(u, delta, A, B, C, D, z, delta_bias, deltaA, delta_softplus,
                             return_last_state, discretization, **options)


def simplified_scan_fn(u, delta, A, B, C, deltaA=None, return_last_state=False,
                       discretization="bilinear", **options):
    """lrnnx's ``simplified_scan_fn`` (the S5 scan: complex u (B, H, L), delta (B, P, L)).

    Parameters
    ----------
    u, delta, A, B, C, deltaA, return_last_state, discretization
        lrnnx's arguments and order. ``**options``: ``h0=``, ``impl=``, ``check_finite=``.

    Returns
    -------
    y : complex tensor (batch, H, L), or ``(y, last_state)``.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import simplified_scan_fn  # doctest: +SKIP
    >>> u = torch.ones(1, 1, 3, dtype=torch.complex128)  # doctest: +SKIP
    >>> A = torch.tensor([-1.0 + 0j], dtype=torch.complex128)  # doctest: +SKIP
    >>> B = C = torch.ones(1, 1, dtype=torch.complex128)  # doctest: +SKIP
    >>> simplified_scan_fn(u, torch.ones(1, 1, 3, dtype=torch.float64), A, B, C,
    ...                    discretization="dirac").shape  # doctest: +SKIP
    torch.Size([1, 1, 3])
    """
    return _ops.simplified_scan(u, delta, A, B, C, deltaA, return_last_state, discretization,
                                **options)


def simplified_scan_ref(u, delta, A, B, C, deltaA=None, return_last_state=False,
                        discretization="bilinear", **options):
    """lrnnx's ``simplified_scan_ref``: :func:`simplified_scan_fn` on the float64 oracle.

    Parameters
    ----------
    u, delta, A, B, C, deltaA, return_last_state, discretization, **options
        As for :func:`simplified_scan_fn`.

    Returns
    -------
    y : complex tensor, or ``(y, last_state)``.

    Examples
    --------
    >>> from lrnnx_array.torch import simplified_scan_ref  # doctest: +SKIP
    """
    options.setdefault("impl", _ref_impl(u, delta, A, B, C))
    return simplified_scan_fn(u, delta, A, B, C, deltaA, return_last_state, discretization,
                              **options)


def s5_inner_fn(u, delta, A, B, C, D, deltaA=None, discretization="bilinear", conj_sym=True,
                **options):
    """lrnnx's ``s5_inner_fn``: ``(2 if conj_sym else 1) Re(C x) + D Re(u)``.

    Parameters
    ----------
    u, delta, A, B, C, D, deltaA, discretization, conj_sym
        lrnnx's arguments and order. ``**options``: ``h0=``, ``impl=``, ``check_finite=``.

    Returns
    -------
    out : real tensor (batch, H, L).

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import s5_inner_fn  # doctest: +SKIP
    >>> u = torch.ones(1, 1, 2, dtype=torch.float64)  # doctest: +SKIP
    >>> A = torch.tensor([-1.0 + 0j], dtype=torch.complex128)  # doctest: +SKIP
    >>> B = C = torch.ones(1, 1, dtype=torch.complex128)  # doctest: +SKIP
    >>> s5_inner_fn(u, torch.ones(1, dtype=torch.float64), A, B, C,
    ...             torch.zeros(1, dtype=torch.float64), discretization="dirac")  # doctest: +SKIP
    tensor([[[2.0000, 2.7358]]], dtype=torch.float64)
    """
    return _ops.s5_inner(u, delta, A, B, C, D, deltaA, discretization, conj_sym, **options)


def s5_inner_ref(u, delta, A, B, C, D, deltaA=None, discretization="bilinear", conj_sym=True,
                 **options):
    """lrnnx's ``s5_inner_ref``: :func:`s5_inner_fn` on the float64 oracle.

    Parameters
    ----------
    u, delta, A, B, C, D, deltaA, discretization, conj_sym, **options
        As for :func:`s5_inner_fn`.

    Returns
    -------
    out : real tensor (batch, H, L).

    Examples
    --------
    >>> from lrnnx_array.torch import s5_inner_ref  # doctest: +SKIP
    """
    options.setdefault("impl", _ref_impl(u, delta, A, B, C, D))
    return s5_inner_fn(u, delta, A, B, C, D, deltaA, discretization, conj_sym, **options)


def rglru_scan_fn(u, delta, A, return_last_state=False, **options):
    """lrnnx's ``rglru_scan_fn``: ``h_t = A^δ h + sqrt(1 - A^(2δ)) u``, ``y = Σ_n h``.

    Parameters
    ----------
    u, delta, A, return_last_state
        lrnnx's arguments. ``**options``: ``h0=``, ``impl=``, ``check_finite=``.

    Returns
    -------
    y : tensor (batch, dim, seqlen), or ``(y, last_state)``.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import rglru_scan_fn  # doctest: +SKIP
    >>> u = torch.ones(1, 1, 3, dtype=torch.float64)  # doctest: +SKIP
    >>> rglru_scan_fn(u, torch.ones_like(u), torch.full((1, 1), 0.5, dtype=torch.float64)).shape
    ... # doctest: +SKIP
    torch.Size([1, 1, 3])
    """
    return _ops.rglru_scan(u, delta, A, return_last_state, **options)


def rglru_scan_ref(u, delta, A, return_last_state=False, **options):
    """lrnnx's ``rglru_scan_ref``: :func:`rglru_scan_fn` on the float64 oracle.

    Parameters
    ----------
    u, delta, A, return_last_state, **options
        As for :func:`rglru_scan_fn`.

    Returns
    -------
    y : tensor, or ``(y, last_state)``.

    Examples
    --------
    >>> from lrnnx_array.torch import rglru_scan_ref  # doctest: +SKIP
    """
    options.setdefault("impl", _ref_impl(u, delta, A))
    return rglru_scan_fn(u, delta, A, return_last_state, **options)


def s7_scan_fn(u, A, B, C, bias=None, return_last_state=False, **options):
    """lrnnx's ``s7_scan_fn``: ``s_t = (1 - 1/(A_t² + ½)) s + B_t u_t + bias_t``, ``y = C_t s``.

    Parameters
    ----------
    u, A, B, C, bias, return_last_state
        lrnnx's arguments. ``**options``: ``h0=``, ``impl=``, ``check_finite=``.

    Returns
    -------
    y : tensor (batch, H, L), or ``(y, last_state)``.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import s7_scan_fn  # doctest: +SKIP
    >>> u = torch.ones(1, 1, 3, dtype=torch.float64)  # doctest: +SKIP
    >>> s7_scan_fn(u, torch.ones(1, 1, 3, dtype=torch.float64),  # doctest: +SKIP
    ...            torch.ones(1, 1, 1, 3, dtype=torch.float64),
    ...            torch.ones(1, 1, 1, 3, dtype=torch.float64)).shape  # doctest: +SKIP
    torch.Size([1, 1, 3])
    """
    return _ops.s7_scan(u, A, B, C, bias, return_last_state, **options)


def s7_scan_ref(u, A, B, C, bias=None, return_last_state=False, **options):
    """lrnnx's ``s7_scan_ref``: :func:`s7_scan_fn` on the float64 oracle.

    Parameters
    ----------
    u, A, B, C, bias, return_last_state, **options
        As for :func:`s7_scan_fn`.

    Returns
    -------
    y : tensor, or ``(y, last_state)``.

    Examples
    --------
    >>> from lrnnx_array.torch import s7_scan_ref  # doctest: +SKIP
    """
    options.setdefault("impl", _ref_impl(u, A, B, C))
    return s7_scan_fn(u, A, B, C, bias, return_last_state, **options)
