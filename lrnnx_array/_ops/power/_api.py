"""Public power(L, A, v=None): A^L and the power-weighted sum used by S4's forward_state."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from .._shared.grads import sum_to
from .._shared.grouping import broadcast_shapes
from . import _generic

__all__ = ["power", "power_vjp", "PowerGrads"]


class PowerGrads(NamedTuple):
    dA: object
    dv: object


def power(L, A, v=None, *, impl="auto"):
    r"""Matrix power by repeated squaring, and the sum of powers applied to columns of ``v``.

    Parameters
    ----------
    L : int
        Exponent (>= 0).
    A : array, shape (..., N, N)
        Batch of square matrices (real or complex).
    v : array, shape (..., N, L'), optional
        Columns to weight by powers of ``A``; leading axes broadcast against ``A``'s.
    impl : {"auto", "generic", "reference"}
        There is no CUDA kernel: the work is O(log L) batched GEMMs, which CuPy runs on cuBLAS.

    Returns
    -------
    AL : array, shape (..., N, N)
        :math:`A^L` (the identity for L = 0).
    s : array, shape (broadcast(...), N)
        Only when ``v`` is given: ``(AL, s)`` with

        .. math:: s = \sum_{i=0}^{L'-1} A^i\, v_{\dots,:,i}

        Column ``i`` of ``v`` is multiplied by :math:`A^i` (column 0 by the identity), and
        :math:`L'` is ``v``'s own length. S4's ``forward_state`` passes ``v`` = B̄ applied to
        the *reversed* input of length L, so ``s`` is the state after L steps from zero and
        ``AL @ state + s`` the state after the sequence.

    Notes
    -----
    Both parts take O(log L) batched matmuls: binary exponentiation for :math:`A^L`, pairwise
    halving :math:`\sum_i A^i v_i = \sum_j (A^2)^j (v_{2j} + A v_{2j+1})` for ``s``. The
    gradient is :func:`power_vjp` (lrnnx uses autograd through the same matmuls).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import power
    >>> A = np.array([[0.5, 0.0], [0.0, 2.0]])
    >>> power(3, A)
    array([[0.125, 0.   ],
           [0.   , 8.   ]])
    >>> power(2, A, np.ones((2, 3)))[1]
    array([1.75, 7.  ])
    """
    xp, L, N, lead = _prepare(L, A, v)
    impl = resolve_impl(impl, xp, cuda_supported=False, what="power")
    dtype = _checks.result_dtype(xp, A, v)
    if impl == "reference":
        from ._ref import power_ref

        out = power_ref(L, A, v)
        if v is None:
            return xp.asarray(out, dtype=A.dtype)
        return xp.asarray(out[0], dtype=A.dtype), xp.asarray(out[1], dtype=dtype)
    AL = _generic.matrix_power(xp, A, L)
    if v is None:
        return AL
    Av = A if A.dtype == dtype else xp.astype(A, dtype)
    vv = v if v.dtype == dtype else xp.astype(v, dtype)
    return AL, _generic.power_sum(xp, Av, vv)


def _prepare(L, A, v, dAL=None, ds=None):
    xp = namespace(A, v, dAL, ds, names=("A", "v", "dAL", "ds"))
    _checks.check_array_dtype(xp, "A", A)
    if v is not None:
        _checks.check_array_dtype(xp, "v", v)
    L = _checks.check_positive_int("L", L, 0)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must have shape (..., N, N) (square), got {tuple(A.shape)}")
    N = A.shape[-1]
    if v is not None:
        if v.ndim < 2 or v.shape[-2] != N:
            raise ValueError(f"v must have shape (..., N, L') with N={N}, got {tuple(v.shape)}")
        try:
            lead = broadcast_shapes(tuple(A.shape[:-2]), tuple(v.shape[:-2]))
        except ValueError:
            raise ValueError(
                f"v with shape {tuple(v.shape)} does not broadcast against A with shape "
                f"{tuple(A.shape)} over the leading axes"
            ) from None
    return xp, L, N, (None if v is None else lead)


def _grad_dtype(xp, like, dtype):
    """A gradient has its input's kind (real or complex) at the computation's precision."""
    if xp.isdtype(like.dtype, "complex floating"):
        return dtype
    return _checks.real_dtype_of(xp, dtype)


def _cotangent(xp, name, g, shape, out_real):
    if g is None:
        return
    _checks.check_array_dtype(xp, name, g, allow_complex=not out_real)
    _checks.check_broadcastable(name, g, shape, "the output shape")


def power_vjp(dout, L, A, v=None, *, impl="auto"):
    r"""Vector-Jacobian product of :func:`power`.

    Parameters
    ----------
    dout : array, or pair ``(dAL, ds)``
        Cotangent of :func:`power`'s output: an array shaped like ``A`` for ``power(L, A)``; the
        pair ``(dAL, ds)`` when ``v`` is given, ``dAL`` shaped like ``A`` and ``ds`` like ``s``
        (either may be None, meaning zero). A real output takes a real cotangent.
    L, A, v, impl
        As for :func:`power`.

    Returns
    -------
    PowerGrads
        ``(dA, dv)`` shaped like ``A`` and ``v`` (``dv`` None without ``v``), summed over the
        axes that broadcasting added. PyTorch's complex convention; real inputs get real
        gradients, at the computation's precision.

    Notes
    -----
    Backpropagates through the forward's own products: for :math:`C = XY`,
    :math:`dX \mathrel{+}= dC\,Y^H` and :math:`dY \mathrel{+}= X^H dC`. Both parts multiply only
    by the squares :math:`B_j = A^{2^j}`, so the backward recomputes that chain once, collects
    each square's adjoint from the binary exponentiation and the pairwise halving, and walks
    the chain back with :math:`dB_j \mathrel{+}= dB_{j+1} B_j^H + B_j^H dB_{j+1}`:
    O(log L + log L') batched matmuls, like the forward.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import power_vjp
    >>> A = np.array([[0.5, 0.0], [0.0, 2.0]])
    >>> power_vjp(np.eye(2), 3, A).dA  # d tr(A^3) = 3 (A^2)^T
    array([[ 0.75,  0.  ],
           [ 0.  , 12.  ]])
    """
    if v is None:
        if isinstance(dout, (tuple, list)):
            raise TypeError("dout must be one array (the cotangent of A^L) when v is None, got a "
                            f"{type(dout).__name__} of length {len(dout)}")
        dAL, ds = dout, None
    else:
        if not isinstance(dout, (tuple, list)) or len(dout) != 2:
            raise TypeError("dout must be the pair (dAL, ds) when v is given, got "
                            f"{type(dout).__name__}")
        dAL, ds = dout
    xp, L, N, lead = _prepare(L, A, v, dAL, ds)
    impl = resolve_impl(impl, xp, cuda_supported=False, what="power_vjp")
    a_real = not xp.isdtype(A.dtype, "complex floating")
    s_real = a_real and (v is None or not xp.isdtype(v.dtype, "complex floating"))
    _cotangent(xp, "dAL", dAL, tuple(A.shape), a_real)
    if v is not None:
        _cotangent(xp, "ds", ds, lead + (N,), s_real)
    dtype = _checks.result_dtype(xp, A, v, dAL, ds)
    if impl == "reference":
        from ._ref import power_vjp_ref

        gA, gv = power_vjp_ref(dout, L, A, v)
    else:
        cast = (lambda a: a if a.dtype == dtype else xp.astype(a, dtype))
        gAL = None if dAL is None else cast(xp.broadcast_to(dAL, tuple(A.shape)))
        gs = None if ds is None else cast(xp.broadcast_to(ds, lead + (N,)))
        gA, gv = _generic.power_vjp(xp, L, cast(A), None if v is None else cast(v), gAL, gs)
        gv = None if v is None else (
            xp.zeros(tuple(v.shape), dtype=dtype) if gv is None else sum_to(xp, gv, v.shape))
    dA = _as_grad(xp, gA, A, dtype)
    return PowerGrads(dA, None if v is None else _as_grad(xp, gv, v, dtype))


def _as_grad(xp, g, like, dtype):
    gdt = _grad_dtype(xp, like, dtype)
    if xp.isdtype(gdt, "real floating") and xp.isdtype(g.dtype, "complex floating"):
        g = xp.real(g)
    return xp.asarray(g, dtype=gdt) if g.dtype != gdt else g
