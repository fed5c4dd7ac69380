"""lrnnx's names for the decode-step state updates, the S4 kernels' primitives and the causal
convolutions, on torch tensors (re-exported by ``lrnnx_array.torch._lrnnx_names``, whose
docstring gives the conventions; the scans are there).

>>> from lrnnx_array.torch._lrnnx_names_steps import _ref_impl
>>> import numpy as np
>>> _ref_impl(np.ones(1))  # not a tensor: the CPU oracle
'reference'
"""

from __future__ import annotations

from .. import ops as _ops
from . import _convert


def _ref_impl(*arrays) -> str:
    """``reference`` (the NumPy float64 oracle) unless a tensor lives on a GPU."""
    for a in arrays:
        if _convert.is_tensor(a) and a.device.type == "cuda":
            return "generic"
    return "reference"


def selective_state_update(state, x, dt, A, B, C, D=None, z=None, dt_bias=None,
                           dt_softplus=False, deltaA=None, state_batch_indices=None,
                           discretization="mamba", **options):
    """lrnnx's Triton ``selective_state_update``: one decode step, ``state`` updated in place.

    No autograd (lrnnx's has no backward): tensors that require grad raise unless the call runs
    under ``torch.no_grad()``.

    Parameters
    ----------
    state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, deltaA, state_batch_indices, discretization
        lrnnx's arguments and order. ``**options``: ``impl=``, ``check_finite=``.

    Returns
    -------
    out : tensor like x.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import selective_state_update  # doctest: +SKIP
    >>> state = torch.zeros(1, 1, 1, dtype=torch.float64)  # doctest: +SKIP
    >>> one = torch.ones(1, 1, dtype=torch.float64)  # doctest: +SKIP
    >>> selective_state_update(state, one, one, -one, one, one, discretization="dirac")
    ... # doctest: +SKIP
    tensor([[1.]], dtype=torch.float64)
    >>> state  # doctest: +SKIP
    tensor([[[1.]]], dtype=torch.float64)
    """
    return _ops.selective_state_update(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, deltaA,
                                       state_batch_indices, discretization, **options)


def selective_state_update_ref(state, x, dt, A, B, C, D=None, z=None, dt_bias=None,
                               dt_softplus=False, deltaA=None, discretization="mamba", **options):
    """lrnnx's ``selective_state_update_ref`` (no ``state_batch_indices``, float64 oracle).

    Parameters
    ----------
    state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, deltaA, discretization, **options
        As for :func:`selective_state_update`.

    Returns
    -------
    out : tensor like x.

    Examples
    --------
    >>> from lrnnx_array.torch import selective_state_update_ref  # doctest: +SKIP
    """
    options.setdefault("impl", _ref_impl(state, x, dt, A, B, C))
    return selective_state_update(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, deltaA, None,
                                  discretization, **options)


def simplified_state_update(state, x, dt, A, B, C, D=None, deltaA=None,
                            discretization="bilinear", conj_sym=True, **options):
    """lrnnx's Triton ``simplified_state_update``: one S5 step, ``state`` updated in place.

    No autograd, as for :func:`selective_state_update`.

    Parameters
    ----------
    state, x, dt, A, B, C, D, deltaA, discretization, conj_sym
        lrnnx's arguments and order. ``**options``: ``impl=``, ``check_finite=``.

    Returns
    -------
    y : real tensor (batch, H).

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import simplified_state_update  # doctest: +SKIP
    >>> s = torch.zeros(1, 1, dtype=torch.complex128)  # doctest: +SKIP
    >>> one = torch.ones(1, 1, dtype=torch.complex128)  # doctest: +SKIP
    >>> simplified_state_update(s, torch.ones(1, 1, dtype=torch.float64),  # doctest: +SKIP
    ...                         torch.ones(1, dtype=torch.float64), -one[0], one, one,
    ...                         discretization="dirac")  # doctest: +SKIP
    tensor([[2.]], dtype=torch.float64)
    """
    return _ops.simplified_state_update(state, x, dt, A, B, C, D, deltaA, discretization, conj_sym,
                                        **options)


def simplified_state_update_ref(state, x, dt, A, B, C, D=None, deltaA=None,
                                discretization="bilinear", conj_sym=True, **options):
    """lrnnx's ``simplified_state_update_ref``: the float64 oracle of the S5 step.

    Parameters
    ----------
    state, x, dt, A, B, C, D, deltaA, discretization, conj_sym, **options
        As for :func:`simplified_state_update`.

    Returns
    -------
    y : real tensor (batch, H).

    Examples
    --------
    >>> from lrnnx_array.torch import simplified_state_update_ref  # doctest: +SKIP
    """
    options.setdefault("impl", _ref_impl(state, x, dt, A, B, C))
    return simplified_state_update(state, x, dt, A, B, C, D, deltaA, discretization, conj_sym,
                                   **options)


def cauchy_naive(v, z, w, **options):
    """lrnnx's ``cauchy_naive``: ``Σ_n v_n/(z - w_n) + conj(v_n)/(z - conj(w_n))``.

    Parameters
    ----------
    v, w : complex tensors (..., N/2)
    z : tensor (L,), the nodes
    **options
        ``impl=``, ``check_finite=``.

    Returns
    -------
    out : complex tensor (..., L).

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import cauchy_naive  # doctest: +SKIP
    >>> v = torch.ones(2, dtype=torch.complex128)  # doctest: +SKIP
    >>> w = torch.tensor([-1 + 1j, -1 - 2j], dtype=torch.complex128)  # doctest: +SKIP
    >>> cauchy_naive(v, 1j * torch.ones(3, dtype=torch.float64), w).shape  # doctest: +SKIP
    torch.Size([3])
    """
    return _ops.cauchy(v, z, w, **options)


cauchy_mult = cauchy_naive  # lrnnx's CUDA extension entry (csrc/s4/cauchy.py): the same maths


def log_vandermonde_naive(v, x, L, conj=True, **options):
    """lrnnx's ``log_vandermonde_naive``: ``K_l = 2 Re Σ_n v_n exp(x_n l)``.

    Parameters
    ----------
    v, x : complex tensors (..., N/2)
    L : int
    conj : bool, default True
        Only the conjugate-symmetric form (``2 Re``, what S4D uses) exists here; False raises.
    **options
        ``impl=``, ``check_finite=``.

    Returns
    -------
    K : real tensor (..., L).

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import log_vandermonde_naive  # doctest: +SKIP
    >>> v = torch.ones(1, 2, dtype=torch.complex128)  # doctest: +SKIP
    >>> log_vandermonde_naive(v, -torch.ones(1, 2, dtype=torch.complex128), 4).shape
    ... # doctest: +SKIP
    torch.Size([1, 4])
    """
    if conj is not True:
        raise ValueError(
            f"log_vandermonde_naive: only conj=True (the 2·Re conjugate-symmetric kernel) is "
            f"implemented, got conj={conj!r}"
        )
    return _ops.log_vandermonde(v, x, L, **options)


def log_vandermonde_transpose_naive(u, v, x, L, **options):
    """lrnnx's ``log_vandermonde_transpose_naive``: ``out_n = Σ_l u_l v_n exp(x_n l)``.

    Parameters
    ----------
    u : tensor (..., L); v, x : complex tensors (..., N/2); L : int
    **options
        ``impl=``, ``check_finite=``.

    Returns
    -------
    out : complex tensor (..., N/2).

    Examples
    --------
    >>> from lrnnx_array.torch import log_vandermonde_transpose_naive  # doctest: +SKIP
    """
    return _ops.log_vandermonde_transpose(u, v, x, L, **options)


def power(L, A, v=None, **options):
    """lrnnx's ``power(L, A, v=None)``: ``A^L`` (and ``Σ_i A^i v[..., i]`` with ``v``).

    Parameters
    ----------
    L : int; A : tensor (..., N, N); v : tensor (..., N, L'), optional
    **options
        ``impl=``, ``check_finite=``.

    Returns
    -------
    AL, or ``(AL, s)`` with ``v``.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> from lrnnx_array.torch import power  # doctest: +SKIP
    >>> power(3, 2 * torch.eye(2, dtype=torch.float64))  # doctest: +SKIP
    tensor([[8., 0.],
            [0., 8.]], dtype=torch.float64)
    """
    return _ops.power(L, A, v, **options)


def opt_ssm_forward(x, K, B_bar, C, **options):
    """lrnnx's ``opt_ssm_forward``: the FFT convolution of S5-LTI, LRU and Centaurus.

    Parameters
    ----------
    x : real tensor (batch, L, H_in); K : complex (N, L); B_bar : (N, H_in); C : (H_out, N)
    **options
        ``strategy=``, ``impl=``.

    Returns
    -------
    y : real tensor (batch, L, H_out).

    Examples
    --------
    >>> from lrnnx_array.torch import opt_ssm_forward  # doctest: +SKIP
    """
    return _ops.opt_ssm_forward(x, K, B_bar, C, **options)


def causal_conv1d_fn(x, weight, bias=None, activation=None, **options):
    """The ``causal_conv1d`` package's ``causal_conv1d_fn`` (lrnnx's Mamba/RG-LRU dependency).

    Parameters
    ----------
    x : tensor (batch, dim, seqlen); weight : (dim, width); bias : (dim,), optional
    activation : {None, "silu", "swish"}
    **options
        ``initial_states=``, ``return_final_states=``, ``impl=``, ``check_finite=``.

    Returns
    -------
    out : tensor (batch, dim, seqlen), or ``(out, final_states)``.

    Examples
    --------
    >>> from lrnnx_array.torch import causal_conv1d_fn  # doctest: +SKIP
    """
    return _ops.causal_conv1d(x, weight, bias, activation, **options)


def causal_conv1d_update(x, conv_state, weight, bias=None, activation=None, **options):
    """The ``causal_conv1d`` package's decode step; ``conv_state`` is updated in place.

    Parameters
    ----------
    x : tensor (batch, dim); conv_state : (batch, dim, state_len); weight, bias, activation
        As for :func:`causal_conv1d_fn`. ``**options``: ``impl=``, ``check_finite=``.

    Returns
    -------
    out : tensor like x.

    Examples
    --------
    >>> from lrnnx_array.torch import causal_conv1d_update  # doctest: +SKIP
    """
    return _ops.causal_conv1d_update(x, conv_state, weight, bias, activation, **options)
