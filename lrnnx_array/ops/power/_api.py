"""Public power(L, A, v=None): A^L and the power-weighted sum used by S4's forward_state."""

from __future__ import annotations

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic

__all__ = ["power"]


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
    halving :math:`\sum_i A^i v_i = \sum_j (A^2)^j (v_{2j} + A v_{2j+1})` for ``s``. No VJP is
    provided (lrnnx differentiates it with autograd through the matmuls).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops.power import power
    >>> A = np.array([[0.5, 0.0], [0.0, 2.0]])
    >>> power(3, A)
    array([[0.125, 0.   ],
           [0.   , 8.   ]])
    >>> power(2, A, np.ones((2, 3)))[1]
    array([1.75, 7.  ])
    """
    xp = namespace(A, v, names=("A", "v"))
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
            xp.broadcast_arrays(A[..., 0, 0], v[..., 0, 0])
        except ValueError:
            raise ValueError(
                f"v with shape {tuple(v.shape)} does not broadcast against A with shape "
                f"{tuple(A.shape)} over the leading axes"
            ) from None
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
