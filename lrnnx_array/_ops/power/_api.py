"""Public power(L, A, v=None): A^L and the power-weighted sum used by S4's forward_state."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec, check_number
from .._shared.grads import grad_dtype, sum_to
from .._shared.grouping import broadcast_shapes

__all__ = ["power", "power_vjp", "PowerGrads", "SPEC"]

# Canonical functions of every implementation module, all arrays in one dtype:
# ``matrix_power(xp, A, L) -> A^L``, ``power_sum(xp, A, v) -> sum_i A^i v_i`` (broadcast lead,
# N) and ``power_vjp(xp, L, A, v, gAL, gs) -> (dA, dv at the broadcast shape or None)``.
SPEC = OpSpec(
    "power",
    __package__,
    (Arg("A", param=True), Arg("v", required=False)),
    impls={"reference": "_ref", "generic": "_generic"},
)


class PowerGrads(NamedTuple):
    dA: object
    dv: object


def power(L, A, v=None, *, impl="auto", check_finite=True):
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
    check_finite : bool, default True
        Whether to check that ``A`` contains only finite numbers (``v`` is an input sequence
        and is not checked). Disabling may give a performance gain (no device
        synchronisation), but may give NaN/inf results if ``A`` does contain infinities or NaNs.

    Returns
    -------
    AL : array, shape (..., N, N)
        :math:`A^L` (the identity for L = 0), in ``A``'s kind at the computation's precision
        (the promoted dtype of ``A`` and ``v``; float16 computes and returns float32).
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
    xp = SPEC.validate({"A": A, "v": v}, check_finite=check_finite)
    L, N, lead = _shapes(L, A, v)
    dtype = _checks.result_dtype(xp, A, v)
    name = SPEC.resolve(impl, xp, dtype)
    adt = grad_dtype(xp, A.dtype, dtype)  # A's kind at the computation's precision
    AL = SPEC.get(name, "matrix_power")(xp, _cast(xp, A, adt), L)
    if v is None:
        return AL
    return AL, SPEC.get(name, "power_sum")(xp, _cast(xp, A, dtype), _cast(xp, v, dtype))


def _cast(xp, a, dtype):
    return a if a.dtype == dtype else xp.astype(a, dtype)


def _shapes(L, A, v):
    """(L, N, broadcast leading shape or None); only shapes are read."""
    L = check_number("L", L, integer=True, minimum=0)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must have shape (..., N, N) (square), got {tuple(A.shape)}")
    N = A.shape[-1]
    lead = None
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
    return L, N, lead


def _cotangent(xp, name, g, shape, out_real):
    if g is None:
        return
    _checks.check_array_dtype(xp, name, g, allow_complex=not out_real)
    _checks.check_broadcastable(name, g, shape, "the output shape")


def power_vjp(dout, L, A, v=None, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`power`.

    Parameters
    ----------
    dout : array, or pair ``(dAL, ds)``
        Cotangent of :func:`power`'s output: an array shaped like ``A`` for ``power(L, A)``; the
        pair ``(dAL, ds)`` when ``v`` is given, ``dAL`` shaped like ``A`` and ``ds`` like ``s``
        (either may be None, meaning zero). A real output takes a real cotangent.
    L, A, v, impl, check_finite
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
    # Without v, dout is the one cotangent (dAL) and is required; with v either half may be None.
    extra = {"dAL": Arg("dAL", required=v is None), "ds": Arg("ds", required=False)}
    xp = SPEC.validate({"dAL": dAL, "ds": ds, "A": A, "v": v}, check_finite=check_finite,
                       extra=extra)
    L, N, lead = _shapes(L, A, v)
    a_real = not xp.isdtype(A.dtype, "complex floating")
    s_real = a_real and (v is None or not xp.isdtype(v.dtype, "complex floating"))
    _cotangent(xp, "dAL", dAL, tuple(A.shape), a_real)
    if v is not None:
        _cotangent(xp, "ds", ds, lead + (N,), s_real)
    dtype = _checks.result_dtype(xp, A, v, dAL, ds)
    name = SPEC.resolve(impl, xp, dtype)
    gAL = None if dAL is None else _cast(xp, xp.broadcast_to(dAL, tuple(A.shape)), dtype)
    gs = None if ds is None else _cast(xp, xp.broadcast_to(ds, lead + (N,)), dtype)
    gA, gv = SPEC.get(name, "power_vjp")(
        xp, L, _cast(xp, A, dtype), None if v is None else _cast(xp, v, dtype), gAL, gs)
    if v is not None:
        gv = xp.zeros(tuple(v.shape), dtype=dtype) if gv is None else sum_to(xp, gv, v.shape)
    dA = _as_grad(xp, gA, A, dtype)
    return PowerGrads(dA, None if v is None else _as_grad(xp, gv, v, dtype))


def _as_grad(xp, g, like, dtype):
    gdt = grad_dtype(xp, like.dtype, dtype)
    if xp.isdtype(gdt, "real floating") and xp.isdtype(g.dtype, "complex floating"):
        g = xp.real(g)
    return xp.asarray(g, dtype=gdt) if g.dtype != gdt else g
